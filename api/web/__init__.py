"""The staff's web inbox: server-rendered Danish pages at `/` of the API server.

Every read and action goes through the HTTP API itself, in-process, with the signed-in member of
staff's own bearer token (web.client): the same authentication, access rules, limits, case
service and access log as any other caller of the API — there is no second path to a case.
"""
