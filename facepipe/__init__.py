"""facepipe: the face-detection pipeline offline — local ASL engine, local services, CLI.

Importing this package is cheap: no model, no OpenCV, no CDK load until first use.
"""

__version__ = "0.1.0"
