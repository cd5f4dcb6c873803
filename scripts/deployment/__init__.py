"""Render IoT Edge deployment manifests from a template, `.env` and the modules' module.json.

One module per step: variables (envfile), references (expand), images (images),
createOptions (createoptions), IPC layout (transfer), layered output (layered), schema
validation (validate); `render` chains them the way the IoT Edge tools do.
"""
