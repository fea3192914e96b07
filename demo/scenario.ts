import { activateTrigger } from '../test/helpers/n8nEngine';
import type { ActiveTrigger, NodeUnderTest } from '../test/helpers/n8nEngine';
import type { Report, ServiceName } from './report';
import { isStopRequested, repeatUntilStopped, sleep, waitUntil } from './timing';

/**
 * What every service's scenario does, written once: start a first batch of work, drop every
 * WebSocket just before the batch's next step (so that step must come back over REST), add work
 * after the reconnect, then either wait for everything to be final or, with --forever, keep adding.
 */

export interface ScenarioOptions {
	forever: boolean;
}

/**
 * One service's started emulator and trigger, and what to do with them: `runScenario` plays it,
 * `close` frees everything (also after a failure).
 */
export interface Scenario {
	service: ServiceName;
	/** The emulator's clock: every id moves one step this often. */
	stepMs: number;
	/** Starts the first work; its ids step together, and the drop is timed on them. */
	firstBatch(): Promise<string[]>;
	/** The drop comes once each first-batch id has this many items, so it falls mid-steps. */
	dropAfterItems: number;
	/** Kills every socket the way a network failure would; returns "is the trigger back?". */
	dropConnections(): () => boolean;
	/** More work: once after the reconnect (new ids still arrive), then every FOREVER_EVERY_MS with --forever. */
	next(round: number): Promise<void>;
	close(): Promise<void>;
}

// Kill the sockets this long before the next step: the reconnect (backoff 250–500 ms) cannot beat it.
const DROP_BEFORE_STEP_MS = 200;
// How long the first batch may take to show its first items, and the trigger to come back after the drop.
const FIRST_ITEMS_TIMEOUT_MS = 5_000;
const RECONNECT_TIMEOUT_MS = 5_000;
const FOREVER_EVERY_MS = 3_000;
// Long enough for the slowest first batch, short enough to keep a stuck run brief.
const FINAL_TIMEOUT_MS = 8_000;

export async function runScenario(report: Report, scenario: Scenario, { forever }: ScenarioOptions): Promise<void> {
	const firstBatch = await scenario.firstBatch();
	const started = await waitUntil(() => firstBatch.every((id) => report.receivedCount(id) >= scenario.dropAfterItems), FIRST_ITEMS_TIMEOUT_MS);
	if (!started && !isStopRequested()) report.problem(scenario.service, `the first items did not arrive within ${FIRST_ITEMS_TIMEOUT_MS / 1000} s`);
	await dropBeforeNextStep(report, scenario, firstBatch);
	if (isStopRequested()) return;
	await scenario.next(0);
	if (forever) await repeatUntilStopped(FOREVER_EVERY_MS, async (round) => await scenario.next(round + 1));
	else await report.expectAllDone(scenario.service, FINAL_TIMEOUT_MS);
}

async function dropBeforeNextStep(report: Report, scenario: Scenario, ids: string[]): Promise<void> {
	const moving = ids.filter((id) => !report.isDone(id));
	const lastStepAt = Math.max(...moving.map((id) => report.stepsOf(id).at(-1)?.at ?? Date.now()));
	await sleep(Math.max(0, lastStepAt + scenario.stepMs - DROP_BEFORE_STEP_MS - Date.now()));
	const dropAt = Date.now();
	const isBack = scenario.dropConnections();
	report.note(scenario.service, `── dropped every WebSocket connection; the next step is due in ${DROP_BEFORE_STEP_MS} ms ──`, dropAt);
	const back = await waitUntil(isBack, RECONNECT_TIMEOUT_MS, 1);
	const backAt = Date.now();
	report.recordGap(scenario.service, dropAt, backAt);
	if (back) report.note(scenario.service, `── the trigger is connected again, ${backAt - dropAt} ms after the drop ──`, backAt);
	else if (!isStopRequested()) report.problem(scenario.service, `the trigger did not reconnect within ${RECONNECT_TIMEOUT_MS / 1000} s of the drop`);
}

/** Activates a trigger in n8n's engine; when that fails, the emulator is closed before the error goes on. */
export async function activateOrClose(emulator: { close(): Promise<void> }, subject: NodeUnderTest): Promise<ActiveTrigger> {
	try {
		return await activateTrigger(subject);
	} catch (error) {
		await emulator.close();
		throw error;
	}
}

/**
 * Work taken from a list: the first `firstBatchSize` entries at once (they step together, and the drop is
 * timed on them), then the following ones, round and round. `start` starts one and returns its id.
 */
export function workFromList<T>(list: readonly T[], firstBatchSize: number, start: (entry: T) => Promise<string>): Pick<Scenario, 'firstBatch' | 'next'> {
	return {
		firstBatch: async () => await Promise.all(list.slice(0, firstBatchSize).map(start)),
		next: async (round) => void (await start(list[(firstBatchSize + round) % list.length])),
	};
}

/** For `dropConnections`: drops, and says the trigger is back once `count` (subscriptions, connections) has grown. */
export function dropUntilCountGrows(drop: () => void, count: () => number): () => boolean {
	const before = count();
	drop();
	return () => count() > before;
}

/** Deactivates the triggers as n8n would, then stops the emulator. */
export async function shutDown(emulator: { close(): Promise<void> }, triggers: ActiveTrigger[]): Promise<void> {
	await Promise.all(triggers.map(async (trigger) => await trigger.deactivate()));
	await emulator.close();
}
