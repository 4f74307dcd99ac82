"""Work that runs beside the requests: the webhook delivery worker."""
