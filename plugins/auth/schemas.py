"""Request and response models of the auth plugin's API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Email = Field(min_length=3, max_length=254)
Password = Field(min_length=1, max_length=256)


class Strict(BaseModel):
    """Requests reject unknown fields, so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


# -- accounts ------------------------------------------------------------------------


class SignupRequest(Strict):
    email: str = Email
    password: str = Password
    name: str = Field("", max_length=200)


class SigninRequest(Strict):
    email: str = Email
    password: str = Password


class PasswordChange(Strict):
    current_password: str = Field("", max_length=256)
    new_password: str = Password


class GroupRef(BaseModel):
    id: str
    name: str


class UserRead(BaseModel):
    id: str
    email: str
    name: str
    role: str
    groups: list[GroupRef]
    created_at: datetime

    @classmethod
    def of(cls, user: Any, groups: list[Any]) -> UserRead:
        return cls(
            id=user.id, email=user.email, name=user.name, role=user.role,
            groups=[GroupRef(id=g.id, name=g.name) for g in groups], created_at=user.created_at,
        )


class AdminUserRead(UserRead):
    active: bool
    has_password: bool

    @classmethod
    def of(cls, user: Any, groups: list[Any]) -> AdminUserRead:
        base = UserRead.of(user, groups).model_dump()
        return cls(**base, active=user.active, has_password=user.password_hash is not None)


class AuthResult(BaseModel):
    user: UserRead
    token: str


class OIDCProviderRead(BaseModel):
    name: str
    label: str


class AuthConfig(BaseModel):
    signup_enabled: bool
    has_users: bool
    oidc: list[OIDCProviderRead]
    password_min_length: int


# -- keys --------------------------------------------------------------------------------


class KeyCreate(Strict):
    name: str = Field(min_length=1, max_length=100)


class KeyRead(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: Any) -> KeyRead:
        return cls(id=row.id, name=row.name, prefix=row.prefix, created_at=row.created_at,
                   last_used_at=row.last_used_at)


class KeyCreated(KeyRead):
    key: str = Field(description="The key itself; shown this once only.")


class KeyList(BaseModel):
    items: list[KeyRead]


# -- administration ----------------------------------------------------------------------


class Page(Strict):
    cursor: str | None = Field(None, max_length=64)
    limit: int = Field(50, ge=1, le=200)


class UserQuery(Page):
    q: str | None = Field(None, max_length=254)


class AuditQuery(Page):
    type: str | None = Field(None, max_length=40)


class UserUpdate(Strict):
    role: Literal["admin", "user", "pending"] | None = None
    active: bool | None = None
    name: str | None = Field(None, max_length=200)


class UserPage(BaseModel):
    items: list[AdminUserRead]
    next_cursor: str | None


class GroupCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=500)


class GroupUpdate(Strict):
    name: str | None = Field(None, min_length=1, max_length=100)
    description: str | None = Field(None, max_length=500)


class GroupRead(BaseModel):
    id: str
    name: str
    description: str
    created_at: datetime
    member_count: int | None = None
    members: list[UserRead] | None = None


class GroupList(BaseModel):
    items: list[GroupRead]


class PermissionCreate(Strict):
    action: str = Field(min_length=1, max_length=100)
    resource_type: str = Field(min_length=1, max_length=100)
    resource_id: str | None = Field(None, max_length=200)
    user_id: str | None = Field(None, max_length=26)
    group_id: str | None = Field(None, max_length=26)
    allow: bool = True


class PermissionRead(BaseModel):
    id: str
    action: str
    resource_type: str
    resource_id: str | None
    user_id: str | None
    group_id: str | None
    allow: bool
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> PermissionRead:
        return cls.model_validate(row, from_attributes=True)


class PermissionList(BaseModel):
    items: list[PermissionRead]


class AuditRead(BaseModel):
    id: str
    type: str
    actor_id: str | None
    subject_id: str | None
    address: str | None
    data: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, row: Any) -> AuditRead:
        return cls.model_validate(row, from_attributes=True)


class AuditPage(BaseModel):
    items: list[AuditRead]
    next_cursor: str | None
