// First: n8n-core reads N8N_USER_FOLDER (and the log level) the moment it is loaded.
import '../test/setup/env';

import type { TachyonFrameShape } from '../emulators/tachyon';
import { startAllfeatScenario } from './allfeatScenario';
import { startKurierScenario } from './kurierScenario';
import { Report } from './report';
import { runScenario } from './scenario';
import type { Scenario, ScenarioOptions } from './scenario';
import { startTachyonScenario } from './tachyonScenario';
import { requestStop, stopOnSignals } from './timing';

/**
 * Sandbox: three emulators (Kurier, Allfeat ATS, Tachyon) and their triggers inside n8n's engine,
 * all at once in this process. Work goes in through each service's API, every emitted item is
 * printed as it arrives (service column), and each service has its WebSocket connections dropped
 * once mid-steps, so the steps around the drop must come back over REST. At the end every id's
 * items are checked against what its emulator really did: exit 1 on a duplicate, a reordering, or
 * a transition lost other than by "it came and went while disconnected" where REST cannot tell.
 *   npm start  (one run, ~6 s)      npm start -- --forever  (new work every 3 s per service until Ctrl-C)
 *   npm start -- --tachyon-frames=bare|notification|legacy  (the Tachyon emulator's frame shape)
 */
const OPTIONS: ScenarioOptions = { forever: process.argv.includes('--forever') };
const report = new Report();
stopOnSignals();

async function main(): Promise<void> {
	// Read before anything starts: a bad value must not leave emulators running.
	const tachyonFrames = tachyonFrameShape(process.argv.find((arg) => arg.startsWith('--tachyon-frames='))?.split('=')[1]);
	const scenarios = await startAll([startKurierScenario(report), startAllfeatScenario(report), startTachyonScenario(report, tachyonFrames)]);
	try {
		report.say(`\n${OPTIONS.forever ? 'Ctrl-C to stop. ' : ''}Items as they arrive: time, service, id, status (tachyon: status#retries), phase, final, tx hash, what it is;`);
		report.say('"← via REST": the trigger had it from the REST API (history read on connect, or reconcile after a drop), not from the socket\n');
		report.start();
		await Promise.all(scenarios.map(async (scenario) => await runScenario(report, scenario, OPTIONS)));
		await report.finish();
	} finally {
		report.stop();
		await Promise.all(scenarios.map(async (scenario) => await scenario.close()));
	}
}

/** All or nothing: when one service cannot start, the ones that did are closed again. */
async function startAll(starting: Array<Promise<Scenario>>): Promise<Scenario[]> {
	const results = await Promise.allSettled(starting);
	const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
	const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
	if (!failure) return started;
	await Promise.all(started.map(async (scenario) => await scenario.close()));
	throw failure.reason;
}

function tachyonFrameShape(value: string | undefined): TachyonFrameShape {
	if (value === undefined) return 'notification';
	if (value === 'bare' || value === 'notification' || value === 'legacy') return value;
	throw new Error(`--tachyon-frames must be bare, notification or legacy, not "${value}"`);
}

main()
	.catch((error: unknown) => {
		// The other scenarios' waits end at once, so the process exits without waiting out their timeouts.
		requestStop();
		report.problem('sandbox', `crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
	})
	.finally(() => {
		const problems = report.problemList();
		if (problems.length === 0) return report.say('\nOK: every transition once and in order for kurier, allfeat-ats and tachyon; nothing lost or duplicated across the reconnects');
		console.error(`\nFAILED:\n  - ${problems.join('\n  - ')}`);
		process.exitCode = 1;
	});
