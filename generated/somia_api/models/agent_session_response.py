from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.agent_session_response_metadata import AgentSessionResponseMetadata


T = TypeVar("T", bound="AgentSessionResponse")


@_attrs_define
class AgentSessionResponse:
    """The session after the turn. The server may add fields; clients keep them.

    Attributes:
        session_id (str): The session's id; pass it to continue the session.
        message (None | str | Unset): The agent's answer to this turn, if it wrote one.
        history (list[Any] | Unset): The session's turns so far.
        metadata (AgentSessionResponseMetadata | Unset): Data the agent attached to the session.
        pending (bool | Unset): The agent is still working (more turns may follow). Default: False.
        finished (bool | Unset): The session has ended; it takes no more turns. Default: False.
    """

    session_id: str
    message: None | str | Unset = UNSET
    history: list[Any] | Unset = UNSET
    metadata: AgentSessionResponseMetadata | Unset = UNSET
    pending: bool | Unset = False
    finished: bool | Unset = False
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        session_id = self.session_id

        message: None | str | Unset
        if isinstance(self.message, Unset):
            message = UNSET
        else:
            message = self.message

        history: list[Any] | Unset = UNSET
        if not isinstance(self.history, Unset):
            history = self.history

        metadata: dict[str, Any] | Unset = UNSET
        if not isinstance(self.metadata, Unset):
            metadata = self.metadata.to_dict()

        pending = self.pending

        finished = self.finished

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "session_id": session_id,
            }
        )
        if message is not UNSET:
            field_dict["message"] = message
        if history is not UNSET:
            field_dict["history"] = history
        if metadata is not UNSET:
            field_dict["metadata"] = metadata
        if pending is not UNSET:
            field_dict["pending"] = pending
        if finished is not UNSET:
            field_dict["finished"] = finished

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.agent_session_response_metadata import AgentSessionResponseMetadata  # noqa: PLC0415

        d = dict(src_dict)
        session_id = d.pop("session_id")

        def _parse_message(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        message = _parse_message(d.pop("message", UNSET))

        history = cast(list[Any], d.pop("history", UNSET))

        _metadata = d.pop("metadata", UNSET)
        metadata: AgentSessionResponseMetadata | Unset
        if isinstance(_metadata, Unset):
            metadata = UNSET
        else:
            metadata = AgentSessionResponseMetadata.from_dict(_metadata)

        pending = d.pop("pending", UNSET)

        finished = d.pop("finished", UNSET)

        agent_session_response = cls(
            session_id=session_id,
            message=message,
            history=history,
            metadata=metadata,
            pending=pending,
            finished=finished,
        )

        agent_session_response.additional_properties = d
        return agent_session_response

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
