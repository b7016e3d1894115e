from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import client_error as _error
from conftest import create_function

pytestmark = pytest.mark.live

FLOOR_MESSAGE = (
    "Specified ReservedConcurrentExecutions for function decreases account's "
    "UnreservedConcurrentExecution below its minimum value of [100]."
)


def test_it_puts_gets_and_deletes_reserved_concurrency(lam):
    create_function(lam, "reserved")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(
        FunctionName="reserved"
    )
    assert "Concurrency" not in lam.get_function(FunctionName="reserved")

    put = lam.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=50)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert put["ReservedConcurrentExecutions"] == 50
    assert (
        lam.get_function_concurrency(FunctionName="reserved")["ReservedConcurrentExecutions"] == 50
    )
    assert lam.get_function(FunctionName="reserved")["Concurrency"] == {
        "ReservedConcurrentExecutions": 50
    }

    deleted = lam.delete_function_concurrency(FunctionName="reserved")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(
        FunctionName="reserved"
    )


def test_zero_reserved_concurrency_is_kept(lam):
    create_function(lam, "stopped")
    lam.put_function_concurrency(FunctionName="stopped", ReservedConcurrentExecutions=0)
    assert lam.get_function_concurrency(FunctionName="stopped")["ReservedConcurrentExecutions"] == 0


def test_it_keeps_100_executions_unreserved(lam):
    limit = lam.get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
    create_function(lam, "big")
    create_function(lam, "small")
    with pytest.raises(ClientError) as error:
        lam.put_function_concurrency(FunctionName="big", ReservedConcurrentExecutions=limit - 99)
    assert _error(error) == ("InvalidParameterValueException", FLOOR_MESSAGE, 400)

    lam.put_function_concurrency(FunctionName="big", ReservedConcurrentExecutions=limit - 200)
    lam.put_function_concurrency(FunctionName="small", ReservedConcurrentExecutions=100)
    with pytest.raises(ClientError) as error:
        lam.put_function_concurrency(FunctionName="small", ReservedConcurrentExecutions=101)
    assert _error(error) == ("InvalidParameterValueException", FLOOR_MESSAGE, 400)
    assert lam.get_function_concurrency(FunctionName="small")["ReservedConcurrentExecutions"] == 100
    # A function's own reservation is replaced, not added to.
    lam.put_function_concurrency(FunctionName="big", ReservedConcurrentExecutions=limit - 200)
    unreserved = lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"]
    assert unreserved == 100


def test_it_rejects_a_negative_reservation(raw_lam):
    create_function(raw_lam, "negative")
    with pytest.raises(ClientError) as error:
        raw_lam.put_function_concurrency(FunctionName="negative", ReservedConcurrentExecutions=-1)
    assert _error(error) == (
        "ValidationException",
        "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to "
        "satisfy constraint: Member must have value greater than or equal to 0",
        400,
    )


def test_it_answers_a_missing_function_with_not_found(lam, credentials):
    arn = f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:ghost"
    for call in (
        lambda: lam.put_function_concurrency(FunctionName="ghost", ReservedConcurrentExecutions=1),
        lambda: lam.get_function_concurrency(FunctionName="ghost"),
        lambda: lam.delete_function_concurrency(FunctionName="ghost"),
    ):
        with pytest.raises(ClientError) as error:
            call()
        assert _error(error) == ("ResourceNotFoundException", f"Function not found: {arn}", 404)
