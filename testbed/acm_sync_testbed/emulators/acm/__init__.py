"""The strict ACM emulator: moto's certificate model plus ACM's documented rules and faults.

``AcmEmulator`` (server.py) serves ACM's JSON protocol over HTTP for boto3 and the AWS CLI;
``StrictAcm`` (backend.py) holds the state and enforces the rules; ``rules.py`` has the
certificate checks, ``faults.py`` the injected failures, ``throttle.py`` the request rates.
"""
