export const id = 887;
export const ids = [887];
export const modules = {

/***/ 6887:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   GitHubDeployment: () => (/* binding */ GitHubDeployment),
/* harmony export */   isProductionEnvironment: () => (/* binding */ isProductionEnvironment)
/* harmony export */ });
/* harmony import */ var _octokit_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(6702);

/** The permission a token needs for deployments, as a workflow writes it. */
const DEPLOYMENTS_PERMISSION = 'permissions: deployments: write';
/**
 * `production_environment`: GitHub's own default is true only for the name `production`. We also
 * take `prod` and the names that start with either followed by a separator (`production-api`,
 * `prod/eu`), so one production environment per image still counts as production; `staging`,
 * `preview`, `productivity` do not.
 */
function isProductionEnvironment(environment) {
    return /^prod(uction)?([-_./ ].*)?$/i.test(environment.trim());
}
/**
 * One deployment of one commit to one environment. `start()` creates it and posts `in_progress`;
 * `finish(outcome)` posts `success` or `failure`. Neither throws.
 */
class GitHubDeployment {
    options;
    /** The deployment's ID once `start()` created it. */
    id;
    client;
    constructor(options) {
        this.options = options;
    }
    async start() {
        const { options } = this;
        const where = `environment ${options.environment}`;
        if (!options.token) {
            return {
                ok: false,
                warning: `No GitHub deployment is recorded for ${where}: there is no \`github-token\`. The deploy goes on.`
            };
        }
        const repository = (0,_octokit_js__WEBPACK_IMPORTED_MODULE_0__/* .splitRepository */ .T8)(options.repository);
        if (!repository) {
            return {
                ok: false,
                warning: `No GitHub deployment is recorded for ${where}: the repository '${options.repository}' is not of the form owner/repo.`
            };
        }
        this.client = (0,_octokit_js__WEBPACK_IMPORTED_MODULE_0__/* .createClient */ .UU)({
            token: options.token,
            apiUrl: options.apiUrl,
            timeoutMs: options.timeoutMs
        });
        try {
            const created = await this.client.rest.repos.createDeployment({
                ...repository,
                ref: options.sha,
                environment: options.environment,
                description: this.describe(),
                task: 'deploy',
                // Without it, pending or failing checks on the commit make GitHub refuse with 409.
                required_contexts: [],
                // Without it, GitHub tries to merge the default branch into the ref first.
                auto_merge: false,
                production_environment: isProductionEnvironment(options.environment),
                transient_environment: false,
                ...(options.payload ? { payload: options.payload } : {})
            });
            if (created.status !== 201 || !('id' in created.data)) {
                const message = created.data.message ?? '';
                return {
                    ok: false,
                    warning: `GitHub did not create a deployment for ${where} (${created.status} ${message}). The deploy goes on without one.`
                };
            }
            this.id = created.data.id;
        }
        catch (error) {
            return {
                ok: false,
                warning: this.warning('create a deployment', (0,_octokit_js__WEBPACK_IMPORTED_MODULE_0__/* .describeApiFailure */ .ge)(error, options.timeoutMs))
            };
        }
        return this.post('in_progress');
    }
    /** Post the final status; does nothing when `start()` created no deployment. */
    async finish(outcome, description) {
        if (this.id === undefined)
            return { ok: true, skipped: true };
        return this.post(outcome, description);
    }
    async post(state, description) {
        const { options } = this;
        const repository = (0,_octokit_js__WEBPACK_IMPORTED_MODULE_0__/* .splitRepository */ .T8)(options.repository);
        try {
            await this.client.rest.repos.createDeploymentStatus({
                ...repository,
                deployment_id: this.id,
                state,
                description: clip(description ?? this.describe(state)),
                ...(options.logUrl ? { log_url: options.logUrl } : {}),
                ...(options.environmentUrl && state !== 'failure'
                    ? { environment_url: options.environmentUrl }
                    : {}),
                // Only a success replaces what production runs: after a failure (or a rollback) the
                // previous deployment is still the live one and must stay active.
                auto_inactive: state === 'success'
            });
            return { ok: true };
        }
        catch (error) {
            return {
                ok: false,
                warning: this.warning(`post the ${state} status of deployment ${this.id}`, (0,_octokit_js__WEBPACK_IMPORTED_MODULE_0__/* .describeApiFailure */ .ge)(error, options.timeoutMs))
            };
        }
    }
    describe(state) {
        const { options } = this;
        const what = `${options.sha.slice(0, 12)} to ${options.environment}`;
        if (state === 'success')
            return `Deployed ${what}`;
        if (state === 'failure')
            return `Deploy of ${what} failed`;
        return clip(options.description ?? `Deploy ${what}`);
    }
    warning(action, failure) {
        const { environment } = this.options;
        const head = `Could not ${action} for environment ${environment} on GitHub (${failure.detail})`;
        const tail = 'The deploy itself goes on; only its record on GitHub is missing.';
        if (failure.status === 404) {
            return `${head}: the token does not see ${this.options.repository}. A token without access to the repository, or without \`${DEPLOYMENTS_PERMISSION}\`, is answered 404. ${tail}`;
        }
        if (failure.status === 403) {
            const accepted = failure.acceptedPermissions
                ? ` GitHub says the request needs ${failure.acceptedPermissions}.`
                : '';
            return `${head}: the token lacks the permission to write deployments.${accepted} Add \`${DEPLOYMENTS_PERMISSION}\` to the job (or the workflow). ${tail}`;
        }
        if (failure.status === 422) {
            return `${head}: is commit ${this.options.sha} pushed to ${this.options.repository}? ${tail}`;
        }
        return `${head}. ${tail}`;
    }
}
function clip(text) {
    return text.length <= 140 ? text : text.slice(0, 139) + '…';
}


/***/ }),

/***/ 6702:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   T8: () => (/* binding */ splitRepository),
/* harmony export */   UU: () => (/* binding */ createClient),
/* harmony export */   ge: () => (/* binding */ describeApiFailure),
/* harmony export */   rK: () => (/* binding */ DEFAULT_API_URL),
/* harmony export */   t1: () => (/* binding */ DEFAULT_TIMEOUT_MS)
/* harmony export */ });
/* harmony import */ var _actions_github__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(2413);

const DEFAULT_API_URL = 'https://api.github.com';
/** A deploy must never wait long on GitHub: each API request gets this long, then gives up. */
const DEFAULT_TIMEOUT_MS = 10_000;
const quiet = { debug() { }, info() { }, warn() { }, error() { } };
/**
 * An Octokit whose every request is bounded by `timeoutMs`. No retries: a failed call is
 * reported and the deploy goes on, so retrying would only delay the deploy.
 */
function createClient(options) {
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // `request` is not passed to getOctokit: it would replace @actions/github's proxy-aware fetch.
    const octokit = (0,_actions_github__WEBPACK_IMPORTED_MODULE_0__/* .getOctokit */ .Q)(options.token, {
        baseUrl: (options.apiUrl || DEFAULT_API_URL).replace(/\/+$/, ''),
        log: quiet
    });
    // A `before` hook changes the options in place: a `wrap` hook's own options would be ignored
    // by the hooks inside it (they are bound to the original options).
    octokit.hook.before('request', options => {
        options.request = { ...options.request, signal: AbortSignal.timeout(timeoutMs) };
    });
    return octokit;
}
/** `owner/repo` → its parts, or undefined when it is not of that form. */
function splitRepository(repository) {
    const match = /^([\w.-]+)\/([\w.-]+)$/.exec(repository.trim());
    return match ? { owner: match[1], repo: match[2] } : undefined;
}
/** What went wrong with an API call, from an Octokit RequestError or any other error. */
function describeApiFailure(error, timeoutMs = DEFAULT_TIMEOUT_MS) {
    const e = error;
    const cause = e?.cause;
    const timedOut = e?.name === 'TimeoutError' ||
        cause?.name === 'TimeoutError' ||
        /aborted due to timeout/i.test(e?.message ?? '');
    if (timedOut)
        return { status: 0, detail: `no answer within ${timeoutMs / 1000} s` };
    if (!e?.response) {
        // No response at all: connection refused, DNS, TLS. Octokit wraps these as status 500, and
        // fetch puts the system error (ECONNREFUSED, ENOTFOUND) a level further down.
        const root = cause?.cause;
        const reason = root?.code ?? cause?.code ?? cause?.message ?? e?.message ?? String(error);
        return { status: 0, detail: `unreachable (${reason})` };
    }
    const data = e.response.data;
    const said = typeof data?.message === 'string' ? data.message : (e.message ?? '');
    return {
        status: e.status ?? 0,
        detail: `${e.status}${said ? ` ${said}` : ''}`,
        acceptedPermissions: e.response.headers?.['x-accepted-github-permissions'] || undefined
    };
}


/***/ })

};
