"""The committed sample config and policy are what the generators write."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
ETC = os.path.join(ROOT, 'etc', 'importflow')
BIN = os.path.dirname(sys.executable)


@pytest.mark.parametrize('tool, generator_conf, sample', [
    ('oslo-config-generator', 'importflow-config-generator.conf',
     'importflow.conf.sample'),
    ('oslopolicy-sample-generator', 'importflow-policy-generator.conf',
     'policy.yaml.sample'),
])
def test_sample_is_current(tmp_path, tool, generator_conf, sample):
    out = tmp_path / sample
    subprocess.run([os.path.join(BIN, tool), '--config-file',
                    os.path.join(ETC, generator_conf), '--output-file',
                    str(out)], check=True, capture_output=True, cwd=ROOT)
    with open(os.path.join(ETC, sample)) as committed:
        assert out.read_text() == committed.read(), (
            '%s is stale: run "tox -e genconfig" and commit the result'
            % sample)
