/**
 * The lifecycle every stream trigger shares (the id-following core and the glue), one table row per
 * service, each trigger in n8n's engine against its emulator: deactivation closes the socket and
 * every timer at once; deactivating while a reconnect waits cancels it; repeated activations leak no
 * connection. Service-specific lifecycle cases stay in each service's test file.
 */
import { AllfeatEmulator } from '../emulators/allfeat';
import { KurierEmulator } from '../emulators/kurier';
import { TachyonEmulator } from '../emulators/tachyon';
import { AllfeatAtsTrigger } from '../nodes/AllfeatAts/AllfeatAtsTrigger.node';
import { TachyonTrigger } from '../nodes/Tachyon/TachyonTrigger.node';
import type { NodeUnderTest } from './helpers/n8nEngine';
import { kurierTriggerSubject } from './helpers/kurier';
import { TestScope } from './helpers/testScope';
import { activeTimerCount, eventually, staysTrue } from './helpers/wait';

/** What the table needs from a service: its emulator's shared hooks, a trigger, and work that would reach it. */
interface ServiceWorld {
	emulator: {
		openConnectionCount(): number;
		stats: { connectionsAccepted: number; connectionsRefused: number };
		setRefuseUpgrades(status: number | null, retryAfterSeconds?: number): void;
		dropAllConnections(): void;
		close(): Promise<void>;
	};
	/** A trigger with its default parameters (creating what it follows, where it follows given ids). */
	subject(): NodeUnderTest;
	/** Work at the service that this trigger would emit. */
	produce(): void;
}

const KURIER_KEY = 'lifecycle-kurier-key-3c9a';
const TACHYON = { apiKey: 'lifecycle-tachyon-key-81be', dashboardJwt: 'lifecycle-jwt', wsKey: 'ws_lifecycle_5d2f' };

const services: Array<[string, () => Promise<ServiceWorld>]> = [
	[
		'Kurier (all jobs)',
		async () => {
			const emulator = await KurierEmulator.start({ apiKeys: [KURIER_KEY] });
			return { emulator, subject: () => kurierTriggerSubject(emulator, KURIER_KEY, { event: 'allJobs', statuses: [] }), produce: () => void emulator.createJob(KURIER_KEY) };
		},
	],
	[
		'Tachyon',
		async () => {
			const emulator = await TachyonEmulator.start({ accounts: [TACHYON] });
			return {
				emulator,
				subject: () => ({
					nodeType: new TachyonTrigger(),
					parameters: { statuses: [], txIds: '', chainIds: '' } as never,
					credentials: { tachyonApi: { baseUrl: emulator.baseUrl, apiKey: TACHYON.apiKey, dashboardJwt: '', wsUrl: emulator.wsUrl, wsKey: TACHYON.wsKey } },
				}),
				produce: () => void emulator.submit(TACHYON.apiKey),
			};
		},
	],
	[
		'Allfeat ATS',
		async () => {
			const emulator = await AllfeatEmulator.start();
			let followed = '';
			return {
				emulator,
				subject: () => {
					followed = emulator.createTransaction().id;
					return { nodeType: new AllfeatAtsTrigger(), parameters: { transactionIds: followed, steps: [] } as never, credentials: { allfeatAtsApi: { baseUrl: emulator.baseUrl, apiKey: '' } } };
				},
				produce: () => void emulator.advance(followed),
			};
		},
	],
];

describe.each(services)('%s', (_name, startWorld) => {
	const scope = new TestScope();
	let world: ServiceWorld;
	beforeEach(async () => {
		world = await startWorld();
	});
	afterEach(async () => {
		await scope.end();
		await world.emulator.close();
	});

	const activate = async () => await scope.activate(world.subject());

	test('deactivation closes the socket and every timer at once; nothing is emitted after it', async () => {
		const timersBefore = activeTimerCount();
		const trigger = await activate();
		expect(world.emulator.openConnectionCount()).toBe(1);
		expect(activeTimerCount()).toBeGreaterThan(timersBefore);
		const itemsBefore = trigger.items().length;
		await trigger.deactivate();
		await eventually(() => expect(world.emulator.openConnectionCount()).toBe(0));
		await eventually(() => expect(activeTimerCount()).toBeLessThanOrEqual(timersBefore));
		world.produce();
		await staysTrue(() => expect(trigger.items()).toHaveLength(itemsBefore));
	});

	test('deactivating while a reconnect waits cancels it', async () => {
		const timersBefore = activeTimerCount();
		const trigger = await activate();
		world.emulator.setRefuseUpgrades(503, 30);
		world.emulator.dropAllConnections();
		// The first reconnect is refused with Retry-After: 30, so the next one would wait 30 s.
		await eventually(() => expect(world.emulator.stats.connectionsRefused).toBe(1));
		await trigger.deactivate();
		await eventually(() => expect(activeTimerCount()).toBeLessThanOrEqual(timersBefore));
		world.emulator.setRefuseUpgrades(null);
		await staysTrue(() => expect(world.emulator.stats.connectionsRefused + world.emulator.stats.connectionsAccepted).toBe(2));
	});

	test('activating and deactivating repeatedly leaks no connection and no timer', async () => {
		const timersBefore = activeTimerCount();
		for (let i = 0; i < 5; i++) {
			const trigger = await activate();
			await trigger.deactivate();
		}
		await eventually(() => expect(world.emulator.openConnectionCount()).toBe(0));
		await eventually(() => expect(activeTimerCount()).toBeLessThanOrEqual(timersBefore));
		expect(world.emulator.stats.connectionsAccepted).toBe(5);
	});
});
