"""The SWR management API (``/v2/manage``, ``/v3/manage``), one module per resource."""
