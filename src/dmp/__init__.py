"""dmp: the Dossier Médical Partagé, a patient-owned electronic health record."""

__version__ = "0.1.0"
