"""The permission decision, without an app."""

from __future__ import annotations

import pytest

from notewell.kernel.actor import ANONYMOUS, Actor
from notewell.kernel.errors import Forbidden
from notewell.plugins.auth.grants import Grants, Rule, resource_key


def actor(role="user", groups=()):
    return Actor(id="u1", kind="user", roles=frozenset({role}), attributes={"groups": groups})


def grants(*rules):
    found = Grants()
    found.rules = list(rules)
    return found


def rule(action="use", rtype="model", rid=None, user="u1", group=None, allow=True):
    return Rule(action, rtype, rid, user, group, allow)


def test_admins_may_do_anything_and_anonymous_nothing():
    assert grants().decide(actor("admin"), "admin", None, []) is True
    assert grants().decide(ANONYMOUS, "use", None, []) is False


def test_pending_accounts_are_told_why():
    with pytest.raises(Forbidden) as raised:
        grants().decide(actor("pending"), "use", None, [])
    assert raised.value.code == "account_pending"


def test_admin_actions_are_never_granted_to_users():
    allow_all = rule(action="*", rtype="*")
    assert grants(allow_all).decide(actor(), "admin", None, []) is False
    assert grants(allow_all).decide(actor(), "admin.plugins", None, []) is False


def test_default_deny_lists_actions_or_resource_types():
    assert grants().decide(actor(), "share", None, []) is True
    assert grants().decide(actor(), "share", None, ["share"]) is False
    assert grants().decide(actor(), "use", ("model", "m"), ["model"]) is False
    assert grants().decide(actor(), "use", ("tool", "t"), ["model"]) is True


def test_most_specific_grant_wins_and_denial_wins_ties():
    group_deny = rule(user=None, group="g", allow=False)
    user_allow_one = rule(rid="small")
    both = grants(group_deny, user_allow_one)
    member = actor(groups=("g",))
    assert both.decide(member, "use", ("model", "small"), []) is True
    assert both.decide(member, "use", ("model", "large"), []) is False
    tie = grants(rule(allow=True), rule(allow=False))
    assert tie.decide(actor(), "use", ("model", "x"), []) is False


def test_grants_to_other_groups_do_not_apply():
    assert grants(rule(user=None, group="g")).decide(actor(), "use", ("model", "m"),
                                                     ["model"]) is False


@pytest.mark.parametrize(
    ("resource", "key"),
    [(None, (None, None)), ("model", ("model", None)), ("model:m1", ("model", "m1")),
     (("model", 5), ("model", "5")), ({"type": "kb", "id": "k"}, ("kb", "k"))],
)
def test_resource_forms(resource, key):
    assert resource_key(resource) == key
