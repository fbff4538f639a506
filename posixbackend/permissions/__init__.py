"""Permissions: what code in a block may do, the denials, the audit hook and time limits.

:class:`Permissions` is the policy (GraalVM's ``Context.Builder`` knobs); blocks narrow it as
they nest; stand-ins and the audit hook (:mod:`posixbackend.permissions.hook`) enforce it.
"""

from posixbackend.permissions.current import current_permissions
from posixbackend.permissions.hook import install_hook, is_sandboxed
from posixbackend.permissions.policy import Access, Environment, Permissions

__all__ = [
    "Access",
    "Environment",
    "Permissions",
    "current_permissions",
    "install_hook",
    "is_sandboxed",
]
