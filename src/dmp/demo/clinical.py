"""Banks of plausible French clinical content for the synthetic documents. All of it is fictional.

Kept as module data: the generators in ``pdf`` and ``cda`` draw from these tables with the caller's
``random.Random``, so a seed always gives the same text.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Scenario:
    """One consultation: why the patient came, what was found, what was decided."""

    motif: str
    history: str
    findings: str
    conclusion: str
    treatment: tuple[str, ...]
    follow_up: str
    child: bool = False
    fever: bool = False


CONSULTATIONS = (
    Scenario(
        "Suivi d'une hypertension artérielle",
        "Hypertension artérielle essentielle connue, traitement bien toléré. Pas de céphalée, "
        "pas de douleur thoracique, pas de dyspnée.",
        "Auscultation cardiaque : bruits du cœur réguliers, pas de souffle. Pouls périphériques "
        "perçus. Pas d'œdème des membres inférieurs.",
        "Hypertension artérielle équilibrée sous traitement.",
        (
            "Amlodipine 5 mg : 1 comprimé le matin.",
            "Poursuite des mesures hygiéno-diététiques (réduction du sel, activité physique).",
        ),
        "Contrôle dans 3 mois avec ionogramme sanguin et créatininémie.",
    ),
    Scenario(
        "Suivi trimestriel d'un diabète de type 2",
        "Diabète de type 2 diagnostiqué il y a plusieurs années. Dernière HbA1c à 7,1 %. "
        "Pas d'hypoglycémie rapportée.",
        "Examen des pieds : pas de plaie, sensibilité au monofilament conservée, pouls pédieux "
        "présents. Auscultation cardio-pulmonaire normale.",
        "Diabète de type 2 correctement équilibré, sans complication décelée ce jour.",
        (
            "Metformine 1000 mg : 1 comprimé matin et soir au cours des repas.",
            "Atorvastatine 20 mg : 1 comprimé le soir.",
        ),
        "HbA1c dans 3 mois. Fond d'œil annuel à programmer.",
    ),
    Scenario(
        "Odynophagie fébrile",
        "Douleur à la déglutition et fièvre depuis 48 heures. Pas de toux. Pas de contage connu.",
        "Amygdales érythémateuses, sans exsudat. Pas d'adénopathie cervicale. Test de diagnostic "
        "rapide du streptocoque négatif.",
        "Angine érythémateuse d'origine virale probable.",
        (
            "Paracétamol 1 g : 1 comprimé jusqu'à 3 fois par jour si douleur ou fièvre.",
            "Pas d'antibiothérapie (test rapide négatif).",
        ),
        "Reconsulter si la fièvre persiste au-delà de 3 jours.",
        fever=True,
    ),
    Scenario(
        "Lombalgie aiguë",
        "Douleur lombaire basse apparue après le port d'une charge lourde, sans irradiation dans "
        "les membres inférieurs. Pas de trouble sphinctérien.",
        "Contracture des muscles paravertébraux. Signe de Lasègue négatif. Pas de déficit "
        "sensitivo-moteur, réflexes ostéo-tendineux présents et symétriques.",
        "Lombalgie commune aiguë, sans signe de gravité.",
        (
            "Paracétamol 1 g : 1 comprimé jusqu'à 3 fois par jour.",
            "Ibuprofène 400 mg : 1 comprimé 3 fois par jour au cours des repas pendant 5 jours.",
            "Maintien d'une activité physique adaptée ; arrêt de travail de 3 jours.",
        ),
        "Réévaluation si la douleur persiste au-delà de 4 semaines.",
    ),
    Scenario(
        "Toux et fébricule",
        "Toux productive depuis 5 jours, fébricule, pas de dyspnée. Non-fumeur.",
        "Auscultation pulmonaire : quelques ronchi bilatéraux, pas de foyer de crépitants. "
        "Saturation en oxygène à 98 % en air ambiant.",
        "Bronchite aiguë, probablement virale.",
        ("Paracétamol 1 g : 1 comprimé jusqu'à 3 fois par jour si fièvre.",),
        "Reconsulter en cas de dyspnée ou de fièvre persistante.",
        fever=True,
    ),
    Scenario(
        "Palpitations",
        "Sensations de battements cardiaques irréguliers, au repos, depuis quelques semaines. "
        "Pas de malaise ni de syncope. Consommation de café importante.",
        "Auscultation : rythme régulier, pas de souffle. ECG de repos : rythme sinusal, PR normal, "
        "QRS fins, pas de trouble de la repolarisation.",
        "Palpitations sur extrasystoles probablement bénignes.",
        (
            "Réduction de la consommation de café et d'alcool.",
            "Holter ECG des 24 heures à réaliser.",
        ),
        "Consultation de cardiologie avec le résultat du Holter.",
    ),
    Scenario(
        "Troubles du sommeil",
        "Difficultés d'endormissement depuis deux mois dans un contexte de surcharge "
        "professionnelle. Pas d'idée suicidaire.",
        "Examen somatique sans particularité. Humeur discrètement abaissée.",
        "Insomnie d'endormissement réactionnelle.",
        (
            "Conseils d'hygiène du sommeil remis au patient.",
            "Orientation vers une psychothérapie de soutien.",
        ),
        "Revoir dans 1 mois.",
    ),
    Scenario(
        "Otalgie fébrile",
        "Douleur de l'oreille droite et fièvre depuis la veille, dans les suites d'une "
        "rhinopharyngite.",
        "Otoscopie : tympan droit bombant et congestif, tympan gauche normal. Pas de raideur "
        "méningée.",
        "Otite moyenne aiguë purulente droite.",
        (
            "Amoxicilline suspension buvable : 80 mg/kg/jour en 2 prises pendant 5 jours.",
            "Paracétamol 15 mg/kg toutes les 6 heures si fièvre ou douleur.",
        ),
        "Reconsulter si la fièvre persiste après 48 heures de traitement.",
        child=True,
        fever=True,
    ),
    Scenario(
        "Rhinopharyngite",
        "Rhinorrhée claire, toux sèche et fébricule depuis 3 jours. Alimentation conservée.",
        "Pharynx inflammatoire, tympans normaux, auscultation pulmonaire normale.",
        "Rhinopharyngite aiguë virale.",
        (
            "Lavages de nez au sérum physiologique plusieurs fois par jour.",
            "Paracétamol 15 mg/kg toutes les 6 heures si fièvre.",
        ),
        "Pas de nouvelle consultation nécessaire en l'absence d'aggravation.",
        child=True,
        fever=True,
    ),
    Scenario(
        "Examen de suivi de l'enfant",
        "Consultation systématique. Pas de plainte. Scolarité sans difficulté.",
        "Croissance staturo-pondérale harmonieuse. Développement psychomoteur adapté à l'âge. "
        "Examen cardio-pulmonaire normal.",
        "Enfant en bonne santé. Vaccinations à jour.",
        ("Rappel vaccinal selon le calendrier en vigueur.",),
        "Prochain examen systématique dans un an.",
        child=True,
    ),
)


@dataclass(frozen=True, slots=True)
class Analyte:
    name: str
    unit: str
    low: float
    high: float
    decimals: int


LAB_PANELS: dict[str, tuple[Analyte, ...]] = {
    "Hématologie - numération formule sanguine": (
        Analyte("Hémoglobine", "g/dL", 12.0, 17.0, 1),
        Analyte("Hématocrite", "%", 36.0, 50.0, 1),
        Analyte("Leucocytes", "G/L", 4.0, 10.0, 2),
        Analyte("Polynucléaires neutrophiles", "G/L", 1.5, 7.0, 2),
        Analyte("Plaquettes", "G/L", 150.0, 400.0, 0),
    ),
    "Biochimie sanguine": (
        Analyte("Sodium", "mmol/L", 136.0, 145.0, 0),
        Analyte("Potassium", "mmol/L", 3.5, 5.0, 1),
        Analyte("Créatinine", "µmol/L", 50.0, 100.0, 0),
        Analyte("Glycémie à jeun", "mmol/L", 3.9, 5.5, 2),
        Analyte("Protéine C réactive (CRP)", "mg/L", 0.0, 5.0, 1),
        Analyte("ASAT", "UI/L", 5.0, 35.0, 0),
        Analyte("ALAT", "UI/L", 5.0, 45.0, 0),
    ),
    "Bilan lipidique": (
        Analyte("Cholestérol total", "g/L", 1.5, 2.0, 2),
        Analyte("Cholestérol HDL", "g/L", 0.4, 0.9, 2),
        Analyte("Cholestérol LDL (calculé)", "g/L", 0.7, 1.6, 2),
        Analyte("Triglycérides", "g/L", 0.35, 1.5, 2),
    ),
    "Hormonologie et diabète": (
        Analyte("TSH", "mUI/L", 0.4, 4.0, 2),
        Analyte("Hémoglobine glyquée (HbA1c)", "%", 4.0, 6.0, 1),
    ),
}


@dataclass(frozen=True, slots=True)
class ImagingExam:
    exam: str
    technique: str
    findings: tuple[str, ...]
    conclusion: str
    indication: str


IMAGING_EXAMS = (
    ImagingExam(
        "Radiographie thoracique de face",
        "Cliché de face, debout, en inspiration. Produit dose-surface : 0,08 Gy.cm².",
        (
            "Parenchyme pulmonaire normalement aéré, sans foyer de condensation.",
            "Culs-de-sac costo-diaphragmatiques libres.",
            "Silhouette cardio-médiastinale de taille normale.",
        ),
        "Radiographie thoracique sans anomalie décelable.",
        "Toux persistante depuis trois semaines.",
    ),
    ImagingExam(
        "Échographie abdominale",
        "Examen réalisé à jeun, par voie sous-costale et intercostale.",
        (
            "Foie de taille normale, d'échostructure discrètement hyperéchogène, homogène.",
            "Vésicule biliaire alithiasique, à paroi fine. Voies biliaires non dilatées.",
            "Reins de taille normale, sans dilatation des cavités pyélocalicielles.",
            "Rate et pancréas sans particularité.",
        ),
        "Stéatose hépatique modérée. Pas d'autre anomalie.",
        "Perturbation du bilan hépatique.",
    ),
    ImagingExam(
        "Scanner cérébral sans injection",
        "Acquisition hélicoïdale sans injection de produit de contraste. PDL : 845 mGy.cm.",
        (
            "Pas d'hémorragie intra ou extra-axiale.",
            "Pas d'effet de masse, pas de déviation de la ligne médiane.",
            "Système ventriculaire de taille et de morphologie normales.",
        ),
        "Absence d'anomalie intracrânienne décelable.",
        "Céphalées inhabituelles chez un patient sans antécédent.",
    ),
    ImagingExam(
        "IRM du genou droit",
        "Séquences pondérées T1 et DP avec saturation du signal de la graisse, trois plans.",
        (
            "Fissure horizontale de la corne postérieure du ménisque médial.",
            "Ligaments croisés antérieur et postérieur continus.",
            "Pas d'épanchement articulaire significatif. Cartilages d'épaisseur conservée.",
        ),
        "Lésion méniscale médiale horizontale, sans lésion ligamentaire associée.",
        "Gonalgie droite mécanique depuis deux mois.",
    ),
    ImagingExam(
        "Radiographie du poignet gauche, face et profil",
        "Deux incidences orthogonales. Produit dose-surface : 0,01 Gy.cm².",
        (
            "Trait de fracture extra-articulaire de l'extrémité distale du radius.",
            "Pas de déplacement significatif. Interligne radio-carpien respecté.",
            "Pas de lésion osseuse du carpe visible.",
        ),
        "Fracture non déplacée de l'extrémité distale du radius gauche.",
        "Chute de sa hauteur sur la main gauche en extension.",
    ),
)

# (medication, posology, chronic: renewable treatment)
MEDICATIONS = (
    (
        "Paracétamol 1 g, comprimé",
        "1 comprimé jusqu'à 3 fois par jour, à 6 heures d'intervalle, pendant 5 jours",
        False,
    ),
    ("Amoxicilline 1 g, comprimé dispersible", "1 comprimé matin et soir pendant 6 jours", False),
    (
        "Ibuprofène 400 mg, comprimé",
        "1 comprimé 3 fois par jour au cours des repas pendant 5 jours",
        False,
    ),
    (
        "Oméprazole 20 mg, gélule gastro-résistante",
        "1 gélule le matin à jeun pendant 4 semaines",
        False,
    ),
    ("Ramipril 5 mg, comprimé", "1 comprimé le matin", True),
    ("Amlodipine 5 mg, gélule", "1 gélule le matin", True),
    ("Atorvastatine 20 mg, comprimé", "1 comprimé le soir", True),
    ("Metformine 850 mg, comprimé", "1 comprimé matin et soir au cours des repas", True),
    ("Lévothyroxine 75 µg, comprimé", "1 comprimé le matin à jeun", True),
    ("Bisoprolol 2,5 mg, comprimé", "1 comprimé le matin", True),
    (
        "Salbutamol 100 µg/dose, suspension pour inhalation",
        "2 bouffées en cas de gêne respiratoire, sans dépasser 8 bouffées par jour",
        True,
    ),
    ("Colécalciférol 100 000 UI, solution buvable en ampoule", "1 ampoule tous les 3 mois", True),
)


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def pick_scenario(rng: random.Random, age: int) -> Scenario:
    return rng.choice([s for s in CONSULTATIONS if s.child == (age < 15)])


def vitals(rng: random.Random, age: int, fever: bool) -> str:
    """A line of vital signs fitting the age (and the fever, if the scenario has one)."""
    temperature = french_number(rng.uniform(38.2, 39.4) if fever else rng.uniform(36.4, 37.3), 1)
    if age < 15:
        weight = french_number(3.5 + age * 2.6 + rng.uniform(-1.5, 2.0), 1)
        return f"Poids {weight} kg. Température {temperature} °C."
    systolic, diastolic = rng.randint(112, 152), rng.randint(64, 94)
    return (
        f"Pression artérielle {systolic}/{diastolic} mmHg, fréquence cardiaque "
        f"{rng.randint(58, 96)}/min, température {temperature} °C, poids {rng.randint(50, 102)} kg."
    )


def lab_value(rng: random.Random, analyte: Analyte) -> tuple[str, str]:
    """A result, mostly within the reference range, and its flag: "", "H" (high) or "B" (low)."""
    spread = analyte.high - analyte.low
    value = rng.uniform(analyte.low - 0.12 * spread, analyte.high + 0.18 * spread)
    value = max(value, 0.0)
    flag = "H" if value > analyte.high else ("B" if value < analyte.low else "")
    return french_number(value, analyte.decimals), flag


def french_number(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}".replace(".", ",")
