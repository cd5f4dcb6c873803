"""A local IoT Edge device: a rendered deployment manifest run with podman.

``lva-simulator deploy MANIFEST`` plays the IoT Edge agent for the manifest's
modules on this machine: ``manifest`` reads the modules as the agent does,
``create_options`` turns their Docker ``createOptions`` into podman arguments,
``placement`` decides which module runs, which the simulator stands in for and
which are skipped, ``podman`` runs the commands, ``device`` puts it together,
and ``commands`` is the command line.
"""
