"""Load a CloudFormation/SAM template with PyYAML, keeping the short tags
(!Ref, !Sub, !GetAtt, !If, ...) as {"!Tag": value} instead of failing on them.
Shared by infra/template_test.sh and infra/deploy_test.sh."""
import yaml


class Loader(yaml.SafeLoader):
    pass


def _tagged(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return {"!" + suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {"!" + suffix: loader.construct_sequence(node, deep=True)}
    return {"!" + suffix: loader.construct_mapping(node, deep=True)}


Loader.add_multi_constructor("!", _tagged)


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=Loader)
