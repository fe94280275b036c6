"""CSIRT: incidentes, observables, contención, cadena de custodia y exportaciones."""
