from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.agent_execution_request import AgentExecutionRequest
from ...models.agent_session_response import AgentSessionResponse
from ...models.error_body import ErrorBody
from ...models.validation_error_body import ValidationErrorBody
from ...types import UNSET, Response, Unset


def _get_kwargs(
    agent_id: int,
    *,
    body: AgentExecutionRequest,
    idempotency_key: str | Unset = UNSET,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    if not isinstance(idempotency_key, Unset):
        headers["Idempotency-Key"] = idempotency_key

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/external/agent/{agent_id}/session".format(
            agent_id=quote(str(agent_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> AgentSessionResponse | ErrorBody | ValidationErrorBody | None:
    if response.status_code == 200:
        response_200 = AgentSessionResponse.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = ErrorBody.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = ErrorBody.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = ErrorBody.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = ErrorBody.from_dict(response.json())

        return response_404

    if response.status_code == 409:
        response_409 = ErrorBody.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = ErrorBody.from_dict(response.json())

        return response_413

    if response.status_code == 422:
        response_422 = ValidationErrorBody.from_dict(response.json())

        return response_422

    if response.status_code == 429:
        response_429 = ErrorBody.from_dict(response.json())

        return response_429

    if response.status_code == 500:
        response_500 = ErrorBody.from_dict(response.json())

        return response_500

    if response.status_code == 503:
        response_503 = ErrorBody.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[AgentSessionResponse | ErrorBody | ValidationErrorBody]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    agent_id: int,
    *,
    client: AuthenticatedClient | Client,
    body: AgentExecutionRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[AgentSessionResponse | ErrorBody | ValidationErrorBody]:
    """Create a session

     Starts a new session of the agent and runs its first turn. The agent's Begin step may
    ignore `input_data` when it has no required query fields. With `"stream": true` the
    answer is a Server-Sent Event stream; otherwise it is one JSON object.

    Args:
        agent_id (int):
        idempotency_key (str | Unset):
        body (AgentExecutionRequest): One turn of an agent. Optional fields are omitted rather
            than sent as null.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AgentSessionResponse | ErrorBody | ValidationErrorBody]
    """

    kwargs = _get_kwargs(
        agent_id=agent_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    agent_id: int,
    *,
    client: AuthenticatedClient | Client,
    body: AgentExecutionRequest,
    idempotency_key: str | Unset = UNSET,
) -> AgentSessionResponse | ErrorBody | ValidationErrorBody | None:
    """Create a session

     Starts a new session of the agent and runs its first turn. The agent's Begin step may
    ignore `input_data` when it has no required query fields. With `"stream": true` the
    answer is a Server-Sent Event stream; otherwise it is one JSON object.

    Args:
        agent_id (int):
        idempotency_key (str | Unset):
        body (AgentExecutionRequest): One turn of an agent. Optional fields are omitted rather
            than sent as null.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AgentSessionResponse | ErrorBody | ValidationErrorBody
    """

    return sync_detailed(
        agent_id=agent_id,
        client=client,
        body=body,
        idempotency_key=idempotency_key,
    ).parsed


async def asyncio_detailed(
    agent_id: int,
    *,
    client: AuthenticatedClient | Client,
    body: AgentExecutionRequest,
    idempotency_key: str | Unset = UNSET,
) -> Response[AgentSessionResponse | ErrorBody | ValidationErrorBody]:
    """Create a session

     Starts a new session of the agent and runs its first turn. The agent's Begin step may
    ignore `input_data` when it has no required query fields. With `"stream": true` the
    answer is a Server-Sent Event stream; otherwise it is one JSON object.

    Args:
        agent_id (int):
        idempotency_key (str | Unset):
        body (AgentExecutionRequest): One turn of an agent. Optional fields are omitted rather
            than sent as null.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AgentSessionResponse | ErrorBody | ValidationErrorBody]
    """

    kwargs = _get_kwargs(
        agent_id=agent_id,
        body=body,
        idempotency_key=idempotency_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    agent_id: int,
    *,
    client: AuthenticatedClient | Client,
    body: AgentExecutionRequest,
    idempotency_key: str | Unset = UNSET,
) -> AgentSessionResponse | ErrorBody | ValidationErrorBody | None:
    """Create a session

     Starts a new session of the agent and runs its first turn. The agent's Begin step may
    ignore `input_data` when it has no required query fields. With `"stream": true` the
    answer is a Server-Sent Event stream; otherwise it is one JSON object.

    Args:
        agent_id (int):
        idempotency_key (str | Unset):
        body (AgentExecutionRequest): One turn of an agent. Optional fields are omitted rather
            than sent as null.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AgentSessionResponse | ErrorBody | ValidationErrorBody
    """

    return (
        await asyncio_detailed(
            agent_id=agent_id,
            client=client,
            body=body,
            idempotency_key=idempotency_key,
        )
    ).parsed
