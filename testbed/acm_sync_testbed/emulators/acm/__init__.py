"""The strict ACM emulator: moto's certificate model plus ACM's documented rules and faults.

``AcmEmulator`` (server.py) serves ACM's JSON protocol over HTTP for boto3 and the AWS CLI;
``StrictAcm`` (backend.py) holds the state, rates, quota and call log, and runs the API
operations of operations.py; ``rules.py`` has the import and reimport checks, over pem.py
(the PEM parameters as ACM reads them) and certfacts.py (key type, names, usages of a
certificate); ``faults.py`` the injected failures, ``throttle.py`` the request rates.
"""
