import type { IncomingHttpHeaders } from 'node:http'

/** What a request came to: a good answer, a non-good HTTP answer, a connection-level failure
 * (refused, reset, timeout, any error) or an answer from a broken release. */
export type Outcome = 'good' | 'bad' | 'failed' | 'broken'
export type Classification = 'good' | 'bad' | 'broken'
export type Classify = (
  status: number,
  body: string,
  headers: IncomingHttpHeaders
) => Classification

export interface LoadRecord {
  /** Epoch milliseconds (sub-millisecond precision). */
  start: number
  end: number
  outcome: Outcome
  /** The HTTP status, null when no answer came. */
  status: number | null
  /** For a failed request: the error's code ('ECONNREFUSED', …) or 'timeout'. */
  error?: string
}

export interface LoadOptions {
  /** http: on 127.0.0.1, localhost or [::1] only. */
  url: string
  /** 1–64, default 8. */
  clients?: number
  /** 1–1,000,000, default 100,000. */
  maxRequests?: number
  /** Up to 3600, default 120: the load stops by itself after that. */
  maxSeconds?: number
  /** Per request, 1–120,000, default 10,000; a timeout is a failure. */
  timeoutMs?: number
  /** How long a client waits after an answer that is not good, 0–1000, default 10. */
  errorPauseMs?: number
  /** Default: 2xx is good, anything else bad. Throwing or returning something else stops the
   * load, and stop() rejects with that error. */
  classify?: Classify
  /** Return the raw records as `samples`. */
  keepSamples?: boolean
}

export interface LoadStats {
  requests: number
  good: number
  /** errors + bad statuses: everything not good and not broken. */
  failed: number
  /** Connection-level failures only. */
  errors: number
  /** Non-good HTTP answers by status code, e.g. { "502": 3 }. */
  badStatus: Record<string, number>
  broken: number
  /** Of good answers' durations, ms (0.1); null when there was no good answer. */
  latency: { p50: number | null; p99: number | null; max: number | null }
  /** The longest stretch of the window with no good answer completing, ms. */
  longestGapMs: number
  durationMs: number
  /** ISO time the first failing request was sent, null when none failed. */
  firstFailure: string | null
  /** ISO time the last failing request ended. */
  lastFailure: string | null
}

export type StopReason = 'stop' | 'maxSeconds' | 'maxRequests' | 'error'

export interface LoadResult extends LoadStats {
  stoppedBy: StopReason
  /** Only with keepSamples: every record, by start time. */
  samples?: LoadRecord[]
}

export interface Load {
  /** Resolves when the load has ended (stop(), maxSeconds, maxRequests); never rejects. */
  readonly done: Promise<void>
  progress(): { requests: number; good: number }
  /** Stops, waits for the requests in flight, returns the stats (the same on every call). */
  stop(): Promise<LoadResult>
}

export declare function classifyByStatus(status: number): Classification
export declare function startLoad(options: LoadOptions): Load
export declare function summarize(
  records: readonly LoadRecord[],
  startMs: number,
  stopMs: number
): LoadStats
export declare const LOAD_TABLE_HEADER: string
export declare function formatLoadRow(name: string, stats: LoadStats): string
