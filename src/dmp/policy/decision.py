"""A decision of the access policy: allowed or not, and why, as a stable code with a French message.

Every decision, allowed or refused, goes to the audit trail with its reason code; the message is
what a patient or a professional reads. The codes are part of the interface: services, the audit
trail and the tests compare them, so they never change meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

# The grounds on which something is allowed.
_GROUNDS: dict[str, str] = {
    "holder": "Le patient accède à son propre DMP.",
    "legal-representative": "Le représentant légal agit pour le patient mineur.",
    "medecin-traitant": "Le professionnel est le médecin traitant du patient.",
    "authorized": "Le patient a autorisé ce professionnel ou son établissement.",
    "emergency": "Accès en urgence (bris de glace), justifié et tracé.",
    "samu": "Accès par la régulation médicale (SAMU - centre 15), justifié et tracé.",
    "author": "Le professionnel est l'auteur du document.",
    "granted": "L'autorisation peut être donnée.",
    "declared": "Le professionnel peut déclarer l'autorisation donnée par le patient présent.",
    "designated": "Le médecin traitant peut être désigné.",
    "create": "Le DMP peut être créé.",
    "reactivate": "Le DMP peut être réactivé.",
    "credentials": "Ce professionnel peut recevoir des identifiants d'accès.",
    "lookup": "Tout professionnel de santé peut savoir si un DMP existe et dans quel état.",
    "declared-medecin-traitant": (
        "Le médecin s'est déclaré médecin traitant avec l'accord du patient présent."
    ),
    "retention-expired": "Le DMP est fermé depuis dix ans : ses données sont détruites.",
    "announcement-pending": (
        "Un document attend depuis 14 jours la consultation d'annonce : le patient est prévenu."
    ),
    "announcement-overdue": (
        "Un document attendait depuis un mois la consultation d'annonce : il devient visible."
    ),
    "care-establishment": "Les professionnels de cet établissement peuvent agir pour lui.",
}

# The reasons for a refusal.
_REFUSALS: dict[str, str] = {
    "record-destroyed": "Ce DMP a été détruit.",
    "record-closed": "Ce DMP est fermé.",
    "record-exists": "Un DMP existe déjà pour ce patient.",
    "record-not-closed": "Seul un DMP fermé peut être réactivé.",
    "operator-no-health-data": "L'opérateur du service n'accède jamais aux données de santé.",
    "other-record": "Ce DMP n'est pas celui du compte connecté.",
    "not-holder": "Ce compte n'est pas celui du titulaire de ce DMP.",
    "not-representative": "Ce compte n'est pas celui d'un représentant légal du titulaire.",
    "representative-of-adult": "Le titulaire est majeur : son représentant légal n'agit plus.",
    "mode-not-for-patient": "Les accès en urgence sont réservés aux professionnels de santé.",
    "holder-only": "Seul le patient ou son représentant légal peut effectuer cette action.",
    "professional-only": "Seul un professionnel de santé peut effectuer cette action.",
    "excluded-actor": (
        "La loi interdit tout accès au DMP aux médecins du travail, mutuelles, assureurs, banques "
        "et employeurs, même avec l'accord du patient."
    ),
    "blocked": "Le patient a bloqué l'accès de ce professionnel.",
    "not-authorized": "Le patient n'a pas autorisé ce professionnel.",
    "justification-required": "Une justification écrite est obligatoire pour un accès en urgence.",
    "emergency-opposed": "Le patient s'est opposé à l'accès en urgence (bris de glace).",
    "samu-opposed": "Le patient s'est opposé à l'accès par la régulation médicale (SAMU).",
    "not-samu-regulator": "Seul un médecin régulateur du SAMU peut utiliser ce mode d'accès.",
    "read-only-mode": "Un accès en urgence ne permet que la consultation du DMP.",
    "document-deleted": "Ce document a été supprimé.",
    "invisible-patient": "Ce document n'est pas encore visible : il attend une consultation.",
    "invisible-representatives": "Ce document n'est pas visible par les représentants légaux.",
    "masked": "Le patient a masqué ce document aux professionnels de santé.",
    "profession-matrix": "Votre profession ne permet pas de consulter cette classe de documents.",
    "patient-class-only": "Cette classe est réservée aux documents déposés par le patient.",
    "professional-class-only": (
        "Le patient ne peut déposer que des documents de la classe "
        "« Document déposé par le patient »."
    ),
    "not-allowed-change": "Vous ne pouvez pas effectuer cette modification sur ce document.",
    "wrong-status": "Le statut du document ne permet pas cette modification.",
    "not-a-medecin": "Le médecin traitant doit être un médecin.",
    "self-designation-only": "Un professionnel ne peut se déclarer médecin traitant que lui-même.",
    "medecin-traitant-designated": (
        "Le patient a déjà un médecin traitant : seul le patient peut en changer."
    ),
    "step-up-required": "Un nouveau code à usage unique est nécessaire pour cette action.",
    "inactive": "Ce professionnel n'est plus en exercice.",
    "not-a-member": "Ce professionnel n'exerce pas dans cet établissement.",
}

REASONS: dict[str, str] = {**_GROUNDS, **_REFUSALS}


@dataclass(frozen=True, slots=True)
class Decision:
    """Allowed or refused, and why. Truthy when allowed, so ``if not decision: return decision``."""

    allowed: bool
    reason: str

    def __post_init__(self) -> None:
        # A typo or a refusal code used as a ground would reach the audit trail unnoticed: fail now.
        known = _GROUNDS if self.allowed else _REFUSALS
        if self.reason not in known:
            kind = "ground" if self.allowed else "refusal"
            raise ValueError(f"unknown {kind} reason code: {self.reason!r}")

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def message(self) -> str:
        """The French sentence a patient or a professional reads."""
        return REASONS[self.reason]


def allow(reason: str) -> Decision:
    return Decision(allowed=True, reason=reason)


def deny(reason: str) -> Decision:
    return Decision(allowed=False, reason=reason)


def first_refusal(*refusals: Decision | None) -> Decision | None:
    """The first refusal of checks given in order of precedence (None for a check that passed).

    Use this, never ``a or b``: a refusal is falsy, so ``or`` would skip over it."""
    return next((refusal for refusal in refusals if refusal is not None), None)
