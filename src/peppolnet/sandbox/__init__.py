"""A real local Peppol network built on the same core as the client (tests, demos, users' CI).

Sub-modules: ``pki`` (a test PKI shaped like Peppol's), ``signing`` (enveloped XML signer).
"""
