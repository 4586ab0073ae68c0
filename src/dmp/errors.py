"""One error model: every failure a user can meet is a ``DmpError`` with a code, an HTTP status
and a French message. Entrypoints translate it in exactly one place each."""

from __future__ import annotations


class DmpError(Exception):
    code = "error"
    status = 400
    message = "La demande n'a pas pu être traitée."

    def __init__(self, message: str | None = None, *, code: str | None = None) -> None:
        self.message = message or self.message
        if code:
            self.code = code
        super().__init__(self.message)


class InvalidInput(DmpError):
    code = "invalid"
    status = 400
    message = "Donnée invalide."


class NotFound(DmpError):
    """Also raised when access is refused: "not allowed" and "does not exist" look the same."""

    code = "not-found"
    status = 404
    message = "Ressource introuvable."


class Forbidden(DmpError):
    """For refusals the caller may learn about (its own rights), never for hidden objects."""

    code = "forbidden"
    status = 403
    message = "Action non autorisée."


class Unauthenticated(DmpError):
    code = "unauthenticated"
    status = 401
    message = "Authentification requise."


class Conflict(DmpError):
    code = "conflict"
    status = 409
    message = "L'état actuel ne permet pas cette action."


class PreconditionFailed(DmpError):
    """A change asked of a version that is no longer the current one (HTTP ``If-Match``)."""

    code = "precondition-failed"
    status = 412
    message = "La ressource a changé depuis votre lecture : relisez-la avant de la modifier."


class TooLarge(DmpError):
    code = "too-large"
    status = 413
    message = "Le fichier dépasse la taille autorisée."


class UnsupportedContent(DmpError):
    code = "unsupported-content"
    status = 415
    message = "Le contenu ne correspond pas au type déclaré ou n'est pas accepté."


class ContentMismatch(DmpError):
    """The content does not match what was declared of it (its size or its hash)."""

    code = "content-mismatch"
    status = 422
    message = "Le contenu ne correspond pas à la taille ou à l'empreinte déclarées."


class ConfigurationError(DmpError):
    code = "configuration"
    status = 500
    message = "Configuration invalide."


class IntegrityError(DmpError):
    """Stored data failed an integrity check (tampered ciphertext, broken audit chain)."""

    code = "integrity"
    status = 500
    message = "Contrôle d'intégrité en échec."


class MigrationRefused(DmpError):
    """A schema migration would lose data: it waits for the step that needs the keys."""

    code = "migration"
    status = 500
    message = "Migration refusée."


class DatabaseUnavailable(DmpError):
    """The database does not answer (stopped, restarting, unreachable) or cannot take the
    transaction now (locked): nothing the request asked was acknowledged, and the same request
    may be sent again (a document already stored is refused as a duplicate of itself)."""

    code = "database-unavailable"
    status = 503
    message = (
        "Le service est momentanément indisponible : sa base de données ne répond pas. "
        "Réessayez dans quelques instants."
    )


class CommitInDoubt(DatabaseUnavailable):
    """The connection broke while the database committed: it may have applied the transaction
    or not. Nothing may be undone on the assumption that it did not (a content, a key): the
    orphan sweep removes later what no committed row refers to."""

    code = "commit-unconfirmed"
    message = (
        "Le service est momentanément indisponible : sa base de données n'a pas confirmé "
        "l'enregistrement. Réessayez dans quelques instants (ce qui a déjà été enregistré "
        "sera refusé comme doublon)."
    )


class NotificationUnavailable(DmpError):
    """A message that had to leave at once (a one-time code) could not: the e-mail server or the
    SMS gateway is down, or that channel is not offered."""

    code = "notification-unavailable"
    status = 503
    message = "L'envoi du message est momentanément impossible. Réessayez dans quelques minutes."


class Unavailable(DmpError):
    """A store the service needs cannot be written or reached (the content store, the key
    store): nothing was recorded, and the same request may succeed later."""

    code = "unavailable"
    status = 503
    message = "Le service est momentanément indisponible : rien n'a été enregistré."


class StorageFull(Unavailable):
    """The content store has no room left (HTTP 507, Insufficient Storage)."""

    code = "storage-full"
    status = 507
    message = (
        "Le stockage des documents est plein : le document n'a pas été enregistré. "
        "Réessayez plus tard ; l'exploitant du service est prévenu."
    )
