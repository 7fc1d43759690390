"""The knowledge base's shapes on the wire: answer templates in and out."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

TITLE_MAX = 100
QUESTION_MAX = 500
BODY_MAX = 2000
QUERY_MAX = 200
CODE_MAX = 40
TYPE_MAX = 12


class AnswerTemplateIn(BaseModel):
    """A new answer template: for a category (any question about it), for a request type (咨询) or for a
    frequent question (``question``: how callers put it), or for several of them."""

    title: str = Field(min_length=1, max_length=TITLE_MAX, examples=["供暖时间和收费咨询"])
    question: str = Field(
        default="", max_length=QUESTION_MAX, description="How callers put the question (searched)"
    )
    body: str = Field(
        min_length=1,
        max_length=BODY_MAX,
        description="The answer; may name the case's fields as placeholders, e.g. {案件编号}",
    )
    category: str | None = Field(
        default=None, max_length=CODE_MAX, description="A category code, e.g. E09009"
    )
    request_type: str | None = Field(
        default=None, max_length=TYPE_MAX, pattern=r"^[a-z_]+$", description="A request type, e.g. consult"
    )


class AnswerTemplateUpdate(BaseModel):
    """What changes; a field left out stays, a null category or request type clears it."""

    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX)
    question: str | None = Field(default=None, max_length=QUESTION_MAX)
    body: str | None = Field(default=None, min_length=1, max_length=BODY_MAX)
    category: str | None = Field(default=None, max_length=CODE_MAX)
    request_type: str | None = Field(default=None, max_length=TYPE_MAX, pattern=r"^[a-z_]+$")
    active: bool | None = Field(default=None, description="True takes a deactivated template back into use")


class AnswerTemplateOut(BaseModel):
    id: int
    title: str
    question: str
    body: str
    category: str | None = Field(description="The category's code")
    category_name: str | None
    request_type: str | None
    request_type_name: str | None = Field(examples=["咨询"])
    active: bool
    use_count: int = Field(description="How many cases were answered with it")
    last_used_at: datetime | None
    created_at: datetime
    updated_at: datetime
    score: float | None = Field(default=None, description="How well it matches the words asked for (0..1)")


class AnswerList(BaseModel):
    total: int = Field(description="Templates found (at most the rows read)")
    items: list[AnswerTemplateOut]
    placeholders: list[str] = Field(description="The placeholders a body may use, e.g. {案件编号}")
