"""Developer and operator tools of the Tags service: template reader, local server, admin CLI, OpenAPI export."""
