import pytest

from devstack.adf.expressions import ExpressionError, Scope, evaluate_string, evaluate_value

OUTPUTS = {"Train": {"customOutput": {"accuracy": 0.95, "classes": [3, 4],
                                      "modelVersion": "m-1"}}}


def scope(**variables):
    return Scope(
        pipeline={"RunId": "run-1", "Pipeline": "train_and_score"},
        parameters={"batchId": "b1", "mlContainer": "ml", "codeVersion": "abc", "n": 3},
        variables=variables, activity_output=lambda name: OUTPUTS[name],
    )


@pytest.mark.parametrize("text,expected", [
    ("@pipeline().parameters.batchId", "b1"),
    ("@pipeline().RunId", "run-1"),
    ("@concat(pipeline().parameters.mlContainer, '/code/', pipeline().parameters.codeVersion)",
     "ml/code/abc"),
    ("@activity('Train').output.customOutput.accuracy", 0.95),
    ("@activity('Train').output['customOutput'].classes[1]", 4),
    ("@variables('v')", "x"),
    ("@equals(variables('v'), 'x')", True),
    ("@and(greater(pipeline().parameters.n, 2), not(less(pipeline().parameters.n, 1)))", True),
    ("@or(equals(1, 2), lessOrEquals(2, 2))", True),
    ("@greaterOrEquals(activity('Train').output.customOutput.accuracy, 0.96)", False),
    ("@if(equals(pipeline().parameters.n, 3), 'three', 'other')", "three"),
    ("model @{activity('Train').output.customOutput.modelVersion} of @{pipeline().RunId}",
     "model m-1 of run-1"),
    ("@{pipeline().parameters.n}", "3"),
    ("@@not an expression", "@not an expression"),
    ("plain text", "plain text"),
    ("@concat('it''s ', string(true))", "it's True"),
    ("@json('{\"a\": 1}').a", 1),
])
def test_supported_expressions(text, expected):
    assert evaluate_string(text, scope(v="x")) == expected


def test_expression_objects_are_evaluated_inside_json_values():
    value = {"folderPath": {"value": "@pipeline().parameters.mlContainer", "type": "Expression"},
             "list": ["@pipeline().parameters.batchId", 1],
             "secret": {"type": "SecureString", "value": "s3cret"}}
    assert evaluate_value(value, scope()) == {"folderPath": "ml", "list": ["b1", 1],
                                              "secret": {"type": "SecureString", "value": "s3cret"}}


@pytest.mark.parametrize("text,named", [
    ("@formatDateTime(utcnow(), 'yyyy')", "formatDateTime"),
    ("@item().name", "item"),
    ("@pipeline().parameters.missing", "missing"),
    ("@variables('undeclared')", "undeclared"),
    ("@activity('Ghost').output", "Ghost"),
    ("@concat('a', ", "cannot parse"),
    ("@{pipeline().RunId", "unterminated"),
    ("@and('yes', true)", "booleans"),
    ("@greater('a', 1)", "compare"),
])
def test_errors_name_the_expression(text, named):
    with pytest.raises(ExpressionError) as err:
        evaluate_string(text, scope())
    assert named in str(err.value)
    assert text.split("(")[0].lstrip("@{") in str(err.value)
