"""Procedural dance: the choreography language, the IK rig and the starter-library styles."""
