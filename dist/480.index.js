export const id = 480;
export const ids = [480];
export const modules = {

/***/ 480:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   compareCommits: () => (/* binding */ compareCommits),
/* harmony export */   rangeBase: () => (/* binding */ rangeBase)
/* harmony export */ });
/* harmony import */ var _octokit_js__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(6702);

/** GitHub lists at most this many files for one comparison. */
const FILE_LIMIT = 300;
const PER_PAGE = 100;
/**
 * The commits and changed files from `base` to `head`, from GitHub's compare API. Never throws:
 * without a token, or when the API fails or does not answer in time, the result says why, and the
 * deploy takes the range from git on the host instead.
 */
async function compareCommits(options) {
    const unavailable = (reason) => ({ source: 'unavailable', reason });
    if (!options.token)
        return unavailable('no github-token');
    const repository = (0,_octokit_js__WEBPACK_IMPORTED_MODULE_0__/* .splitRepository */ .T8)(options.repository);
    if (!repository)
        return unavailable(`repository '${options.repository}' is not of the form owner/repo`);
    if (!options.base || !options.head)
        return unavailable('no base or head commit');
    if (options.base === options.head)
        return { source: 'github', status: 'identical', commits: [], files: [], truncated: false };
    const timeoutMs = options.timeoutMs ?? _octokit_js__WEBPACK_IMPORTED_MODULE_0__/* .DEFAULT_TIMEOUT_MS */ .t1;
    const maxPages = options.maxPages ?? 10;
    try {
        const octokit = (0,_octokit_js__WEBPACK_IMPORTED_MODULE_0__/* .createClient */ .UU)({ token: options.token, apiUrl: options.apiUrl, timeoutMs });
        const commits = [];
        const files = new Set();
        let status = '';
        let totalCommits = 0;
        let pages = 0;
        let complete = true;
        // GitHub pages the commits of a comparison (per_page/page) and lists the files once.
        for await (const page of octokit.paginate.iterator(octokit.rest.repos.compareCommitsWithBasehead, { ...repository, basehead: `${options.base}...${options.head}`, per_page: PER_PAGE })) {
            // The compare answer is one object per page (paginate's types assume a list under a key).
            const data = page.data;
            if (pages === 0) {
                status = data.status;
                totalCommits = data.total_commits;
            }
            for (const c of data.commits ?? []) {
                commits.push({
                    sha: c.sha,
                    subject: (c.commit.message ?? '').split('\n')[0],
                    author: c.commit.author?.name ?? c.author?.login ?? ''
                });
            }
            for (const f of data.files ?? []) {
                if (f.previous_filename)
                    files.add(f.previous_filename);
                files.add(f.filename);
            }
            pages += 1;
            if (pages >= maxPages && commits.length < totalCommits) {
                complete = false;
                break;
            }
        }
        return {
            source: 'github',
            status,
            commits,
            files: [...files],
            truncated: !complete || commits.length < totalCommits || files.size >= FILE_LIMIT
        };
    }
    catch (error) {
        const failure = (0,_octokit_js__WEBPACK_IMPORTED_MODULE_0__/* .describeApiFailure */ .ge)(error, timeoutMs);
        const api = options.apiUrl || _octokit_js__WEBPACK_IMPORTED_MODULE_0__/* .DEFAULT_API_URL */ .rK;
        const hint = failure.status === 404
            ? `: ${abbreviateSha(options.base)} or ${abbreviateSha(options.head)} is not in ${options.repository}, or the token cannot read it`
            : '';
        return unavailable(`GitHub API (${api}) compare ${abbreviateSha(options.base)}...${abbreviateSha(options.head)}: ${failure.detail}${hint}`);
    }
}
/**
 * Where the deployed range starts: the commit production runs when it could be read (the push
 * event's `before` is wrong after a failed or skipped deploy, or a deploy of an older ref), else
 * the push's `before`. A branch's first push has an all-zero `before`, which is no commit.
 */
function rangeBase(production, before) {
    const commit = (sha) => sha && /^[0-9a-f]{7,64}$/i.test(sha) && !/^0+$/.test(sha) ? sha : undefined;
    const fromProduction = commit(production?.trim());
    if (fromProduction)
        return { sha: fromProduction, from: 'production' };
    const fromPush = commit(before?.trim());
    return fromPush ? { sha: fromPush, from: 'push' } : undefined;
}
/** A full commit SHA as its first 12 hex digits; anything else (a branch name) as given. */
function abbreviateSha(sha) {
    return /^[0-9a-f]{40,64}$/i.test(sha) ? sha.slice(0, 12) : sha;
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
