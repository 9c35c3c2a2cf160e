"""Error codes and messages; see README.md ("Errors") for which are observed and which are chosen."""
from __future__ import annotations


class APIError(Exception):
    """An error answered with the Cloudflare v4 failure envelope."""

    def __init__(self, status: int, code: int, message: str, error_chain=None, headers=None,
                 more_errors=None):
        super().__init__(message)
        self.more_errors = list(more_errors or [])
        self.status = status
        self.code = code
        self.message = message
        self.error_chain = error_chain
        self.headers = headers or {}

    def body(self) -> dict:
        err = {"code": self.code, "message": self.message}
        if self.error_chain:
            err["error_chain"] = self.error_chain
        return {"result": None, "success": False, "errors": [err] + self.more_errors, "messages": []}


# --- observed / documented ([E]/[O] in pages-api.md) ---------------------------------------
MSG_PROJECT_NOT_FOUND = ("Project not found. The specified project name does not match any of "
                         "your existing projects.")
MSG_PROJECT_EXISTS = "A project with this name already exists. Choose a different project name."
MSG_DEPLOYMENT_NOT_FOUND = ("The deployment ID you have specified does not exist. Update the "
                            "deployment ID and try again. ")  # trailing space is real
MSG_ALIASED = ("You cannot delete an aliased deployment without a `?force=true` parameter in the "
               "API request URL.")
MSG_LIST_OPTIONS = "Invalid list options provided. Review the `page` or `per_page` parameter."
MSG_DOMAIN_UNAVAILABLE = "Domain is unavailable"
MSG_TOO_MANY_DEPLOYMENTS = ("Your project has too many deployments to be deleted, follow this guide "
                            "to delete it: https://cfl.re/3CXesln")
MSG_RATE_LIMITED = "Please wait and consider throttling your request speed"
MSG_UNKNOWN = "An unknown error occurred. Contact your account team or Cloudflare support"


def project_not_found():
    return APIError(404, 8000007, MSG_PROJECT_NOT_FOUND)


def deployment_not_found():
    return APIError(404, 8000009, MSG_DEPLOYMENT_NOT_FOUND)


def list_options():
    return APIError(400, 8000024, MSG_LIST_OPTIONS)


def no_route(path: str, status: int = 404):
    # [V] Cloudflare's answer for a path it cannot route; 400 when the account id is malformed.
    return APIError(status, 7003, f"Could not route to {path}, perhaps your object identifier is invalid?",
                    more_errors=[{"code": 7000, "message": "No route for that URI"}])


def method_not_allowed():
    # [G] Cloudflare's edge answers an unsupported method on a known path with 7001.
    return APIError(405, 7001, "Method not allowed for this authentication scheme")


def auth_error():
    return APIError(403, 10000, "Authentication error")


def bad_headers(chain_code: int, chain_message: str):
    return APIError(400, 6003, "Invalid request headers",
                    error_chain=[{"code": chain_code, "message": chain_message}])


def jwt_error(detail: str):
    # [G] code 8000013 is what wrangler keys on; status and text are the emulator's choice.
    return APIError(401, 8000013, f"Authorization failed: the upload JWT is {detail}. "
                                  "Request a new one from the upload-token endpoint.")


# --- emulator choices ([G]) ---------------------------------------------------------------
def invalid_project_name(name):
    return APIError(400, 8000040,
                    f"Invalid project name '{name}'. Project names may only contain lowercase "
                    "letters (a-z), digits and dashes, must not start or end with a dash and must "
                    "be at most 58 characters long.")


def bad_request(message: str):
    return APIError(400, 8000041, message)


def source_change(message: str):
    return APIError(400, 8000039, message)


# [G] status, code and text: Cloudflare documents the restriction (an automated anti-abuse cooldown on
# creating many projects in an account's first 48 hours that lifts on its own; cloudflare-docs#31552,
# pages/platform/limits) but not its error; the words follow the docs.
MSG_CREATE_COOLDOWN = ("Your account is temporarily restricted from creating new Pages projects: an "
                       "automated anti-abuse measure limits how many projects a new account creates in its "
                       "first 48 hours. The restriction lifts on its own.")


def create_cooldown():
    return APIError(400, 8000101, MSG_CREATE_COOLDOWN)


def canonical_delete():
    return APIError(400, 8000034,
                    "You cannot delete the active production deployment. Roll back to another "
                    "production deployment first.")


def rollback_refused(reason: str):
    return APIError(400, 8000038, f"You can only rollback to successful production deployments. {reason}")


def manifest_missing():
    return APIError(400, 8000096,
                    "A `manifest` field is required to create a deployment for a Direct Upload "
                    "project (the project has no Git source to build from).")


def manifest_hash_missing(path, h):
    return APIError(400, 8000097,
                    f"The manifest references a file that was never uploaded: {path} (hash {h}). "
                    "Upload it with /pages/assets/upload first.")


def too_many_files(n, limit):
    return APIError(400, 8000098,
                    f"Deployment has {n} files; your plan allows at most {limit} files per deployment.")


def worker_conflict():
    return APIError(400, 8000099, "`_worker.js` and `_worker.bundle` are mutually exclusive.")


def malformed_worker(detail: str):
    # [G] code and text: the emulator's choice for a `_worker.bundle`/`_worker.js`/`_routes.json`
    # it cannot read (README, choices for unknown behaviour).
    return APIError(400, 8000100, f"The deployment's worker cannot be read: {detail}.")


def invalid_domain(name):
    return APIError(400, 8000019, f"Invalid domain name '{name}'.")


def domain_not_found():
    return APIError(404, 8000021, "Domain does not exist. Check the domain name and try again.")
