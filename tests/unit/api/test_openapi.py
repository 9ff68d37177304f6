"""doc/api/openapi.yaml describes exactly the routes the app serves."""

import pathlib
import re

import pytest
import yaml

from importflow.api import app as api_app

DOC = pathlib.Path(__file__).parents[3] / 'doc' / 'api' / 'openapi.yaml'
METHODS = {'get', 'put', 'post', 'patch', 'delete'}


def _document():
    return yaml.safe_load(DOC.read_text())


def _flask_routes():
    app = api_app.create_flask_app()
    routes = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r'<(?:[^:>]+:)?([^>]+)>', r'{\1}', rule.rule)
        for method in rule.methods:
            if method.lower() in METHODS:
                routes.add((path, method.lower()))
    return routes


def _documented_routes():
    routes = set()
    for path, item in _document()['paths'].items():
        for method in item:
            if method in METHODS:
                routes.add((path, method))
    return routes


def test_every_route_is_documented_and_every_documented_route_exists():
    served = _flask_routes()
    documented = _documented_routes()
    assert served - documented == set(), 'routes missing from openapi.yaml'
    assert documented - served == set(), 'openapi.yaml documents no route'


def test_document_is_valid_openapi():
    validator = pytest.importorskip('openapi_spec_validator')
    validator.validate(_document())


def test_path_parameters_are_declared():
    for path, item in _document()['paths'].items():
        names = set(re.findall(r'{([^}]+)}', path))
        declared = {p.get('name') or p['$ref'].rsplit('/', 1)[-1]
                    for p in item.get('parameters', [])}
        if names:
            assert 'ImageId' in declared or names <= declared, path
