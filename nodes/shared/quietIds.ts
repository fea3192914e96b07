/**
 * When the REST safety net reads an id while its socket is healthy: only once the id has been quiet
 * (no word from the service) longer than its phase normally takes, and then less and less often
 * while it stays the same. A socket that follows every id costs no REST read at all; a lost frame
 * still reaches the workflow within its phase's usual time plus one check.
 *
 * Time is counted in checks (the trigger's REST Check Interval, default 5 minutes), so the whole
 * schedule follows that one setting: a phase of 2 checks is 10 minutes at the default.
 */

/** After a check found an id unchanged it waits 1, 2, 4, 8, then 12 checks (5, 10, 20, 40, 60 minutes at the default). */
const MAX_BACKOFF_CHECKS = 12;
/** Checks come at the interval give or take a fifth (jitter): a quarter check early is still on time. */
const EARLY_TOLERANCE_CHECKS = 0.25;

export class QuietIdSchedule {
	// When the service last spoke of each open id (a frame, or a read), and how many checks found it unchanged since.
	private readonly heardAt = new Map<string, number>();
	private readonly unchangedChecks = new Map<string, number>();

	constructor(
		private readonly checkMs: number,
		private readonly now: () => number = Date.now,
	) {}

	/** The service spoke of the id (a frame, a read after a reconnect, or a read that found it moved). */
	heard(id: string): void {
		this.heardAt.set(id, this.now());
		if (this.unchangedChecks.size > 0) this.unchangedChecks.delete(id);
	}

	/** A check read the id and found it as it was: the next read waits twice as long (up to the cap). */
	unchanged(id: string): void {
		this.heardAt.set(id, this.now());
		this.unchangedChecks.set(id, (this.unchangedChecks.get(id) ?? 0) + 1);
	}

	/** The id is final (or no longer followed). */
	forget(id: string): void {
		this.heardAt.delete(id);
		this.unchangedChecks.delete(id);
	}

	/**
	 * Of `openIds`, those due for a read now, the most overdue first. `quietChecksOf(id)`: how many
	 * checks the id's current phase normally lasts. An id never heard of starts its clock now.
	 */
	due(openIds: readonly string[], quietChecksOf: (id: string) => number): string[] {
		const now = this.now();
		const overdue: Array<[string, number]> = [];
		for (const id of openIds) {
			const at = this.heardAt.get(id);
			if (at === undefined) {
				this.heardAt.set(id, now);
				continue;
			}
			const unchanged = this.unchangedChecks.get(id) ?? 0;
			const waitChecks = unchanged === 0 ? quietChecksOf(id) : Math.min(2 ** (unchanged - 1), MAX_BACKOFF_CHECKS);
			const late = now - at - (waitChecks - EARLY_TOLERANCE_CHECKS) * this.checkMs;
			if (late >= 0) overdue.push([id, late]);
		}
		// Ids forgotten without a final word (evicted, or the trigger stopped following them) must not pile up.
		if (this.heardAt.size > openIds.length + 1024) this.keepOnly(new Set(openIds));
		return overdue.sort((a, b) => b[1] - a[1]).map(([id]) => id);
	}

	private keepOnly(open: ReadonlySet<string>): void {
		for (const id of this.heardAt.keys()) if (!open.has(id)) this.forget(id);
	}
}
