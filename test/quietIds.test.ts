/**
 * The REST safety net's schedule (quietIds.ts) and the adaptive REST budget (restBudget.ts), on an
 * injected clock: which open ids a check reads, and how fast a key's reads may go.
 */
import { QuietIdSchedule } from '../nodes/shared/quietIds';
import { RestBudget, restBudgetFor } from '../nodes/shared/restBudget';
import { knownRestRate } from '../nodes/shared/credentialFields';
import { staysTrue } from './helpers/wait';

const CHECK_MS = 300_000;

describe('QuietIdSchedule', () => {
	test('an id is due once quiet for as many checks as its phase lasts; a word from the service restarts its clock', () => {
		let now = 0;
		const schedule = new QuietIdSchedule(CHECK_MS, () => now);
		const checks = (id: string) => (id === 'slow' ? 12 : 1);
		schedule.heard('quick');
		schedule.heard('slow');
		now += CHECK_MS;
		expect(schedule.due(['quick', 'slow'], checks)).toEqual(['quick']);
		schedule.heard('quick');
		now += CHECK_MS / 2;
		expect(schedule.due(['quick', 'slow'], checks)).toEqual([]);
		now += 11 * CHECK_MS;
		// Both overdue: the most overdue first.
		expect(schedule.due(['quick', 'slow'], checks)).toEqual(['quick', 'slow']);
	});

	test('checks that find an id unchanged wait 1, 2, 4, 8, then 12 checks, however long it stays', () => {
		let now = 0;
		const schedule = new QuietIdSchedule(CHECK_MS, () => now);
		schedule.heard('stuck');
		const readsAt: number[] = [];
		// One check every CHECK_MS for 40 checks; each due read finds it unchanged.
		for (let check = 1; check <= 40; check++) {
			now = check * CHECK_MS;
			if (schedule.due(['stuck'], () => 1).includes('stuck')) {
				readsAt.push(check);
				schedule.unchanged('stuck');
			}
		}
		expect(readsAt).toEqual([1, 2, 4, 8, 16, 28, 40]);
		// Moved: back to its phase's time.
		schedule.heard('stuck');
		now += CHECK_MS;
		expect(schedule.due(['stuck'], () => 1)).toEqual(['stuck']);
	});

	test('an id never heard of starts its clock at the first check; forgotten ids are not kept', () => {
		let now = 0;
		const schedule = new QuietIdSchedule(CHECK_MS, () => now);
		expect(schedule.due(['new'], () => 1)).toEqual([]);
		now += CHECK_MS;
		expect(schedule.due(['new'], () => 1)).toEqual(['new']);
		schedule.forget('new');
		expect(schedule.due(['new'], () => 1)).toEqual([]);
	});

	test('a check up to a quarter early (jitter) still reads a due id', () => {
		let now = 0;
		const schedule = new QuietIdSchedule(CHECK_MS, () => now);
		schedule.heard('id');
		now = 0.8 * CHECK_MS;
		expect(schedule.due(['id'], () => 1)).toEqual(['id']);
	});
});

describe('adaptive RestBudget', () => {
	// The budget sleeps in real time for what the injected clock says is left: aborted at the end, no timer outlives a test.
	let controller = new AbortController();
	let signal = controller.signal;
	beforeEach(() => {
		controller = new AbortController();
		signal = controller.signal;
	});
	afterEach(() => controller.abort());

	/** Takes as many tokens as the budget grants during `ms` of the injected clock, 10 ms at a time. */
	async function drain(budget: RestBudget, clock: { now: number }, ms: number): Promise<number> {
		let granted = 0;
		const end = clock.now + ms;
		while (clock.now < end) {
			const pending = budget.take(signal).then(() => (granted += 1));
			// Granted at once, or after the clock moves on.
			for (let i = 0; i < 5 && granted === 0; i++) await Promise.resolve();
			let done = false;
			void pending.then(() => (done = true));
			while (!done && clock.now < end) {
				clock.now += 10;
				await new Promise((resolve) => setTimeout(resolve, 0));
			}
			if (!done) break;
		}
		return granted;
	}

	test('reads that wait for the budget raise its rate while no 429 comes, up to the ceiling', async () => {
		const clock = { now: 0 };
		const budget = new RestBudget({ ratePerSecond: 5, burst: 1, maxRatePerSecond: 40, now: () => clock.now });
		await drain(budget, clock, 10_000);
		expect(budget.ratePerSecond).toBe(40);
	});

	test('a 429 halves the rate and holds every read for its Retry-After; no rise again soon after', async () => {
		const clock = { now: 0 };
		const budget = new RestBudget({ ratePerSecond: 40, burst: 1, maxRatePerSecond: 40, now: () => clock.now });
		budget.tooManyRequests(2_000);
		// Reads in flight together come back limited together: one halving.
		budget.tooManyRequests(2_000);
		expect(budget.ratePerSecond).toBe(20);
		let granted = false;
		void budget.take(signal).then(() => (granted = true));
		clock.now = 1_999;
		await staysTrue(() => expect(granted).toBe(false), 100);
		clock.now = 2_000;
		await drain(budget, clock, 5_000);
		expect(budget.ratePerSecond).toBe(20);
	});

	test('without a ceiling the rate stays where it started', async () => {
		const clock = { now: 0 };
		const budget = new RestBudget({ ratePerSecond: 5, burst: 1, now: () => clock.now });
		await drain(budget, clock, 3_000);
		expect(budget.ratePerSecond).toBe(5);
	});

	test("a key's known limit (credential) is its start and its ceiling; none: 5 a second, learnt upwards", () => {
		const unknown = restBudgetFor('test-service', 'key-unknown');
		expect(unknown.ratePerSecond).toBe(5);
		const known = restBudgetFor('test-service', 'key-known', 50);
		expect(known.ratePerSecond).toBe(50);
		// The credential changed: the same key's budget follows it.
		expect(restBudgetFor('test-service', 'key-known', 20).ratePerSecond).toBe(20);
		expect(knownRestRate('25')).toBe(25);
		expect(knownRestRate(0)).toBe(0);
		expect(knownRestRate(-3)).toBe(0);
		expect(knownRestRate('fast')).toBe(0);
	});
});
