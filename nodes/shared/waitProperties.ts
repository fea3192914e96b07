import type { INodeProperties } from 'n8n-workflow';

/** Parameter names every "wait for …" operation shares; saved workflows store them, so they never change. */
export const TIMEOUT_PARAMETER = 'timeoutSeconds';
export const WAIT_OPTIONS_PARAMETER = 'options';
export const POLL_INTERVAL_OPTION = 'pollIntervalSeconds';

/**
 * One node's "wait for …" parameters, declared once: its properties are built from it and
 * runWaitOperation reads the same names and defaults, so the editor and the run cannot disagree.
 */
export interface WaitParameters {
	timeout: { default: number; description: string };
	/** The boolean "fail the node when it ended failed" (default on); its name differs per service. */
	failOnFailure: { name: string; displayName: string; description: string };
	pollInterval: { default: number; description: string };
}

type DisplayOptions = INodeProperties['displayOptions'];

export function timeoutSecondsProperty(parameters: WaitParameters, displayOptions: DisplayOptions): INodeProperties {
	// Destructured so the default is a plain identifier, which n8n's lint rules accept as a default.
	const { default: defaultSeconds, description } = parameters.timeout;
	return {
		displayName: 'Timeout (Seconds)',
		name: TIMEOUT_PARAMETER,
		type: 'number',
		typeOptions: { minValue: 1 },
		default: defaultSeconds,
		description,
		displayOptions,
	};
}

export function failOnFailureProperty(parameters: WaitParameters, displayOptions: DisplayOptions): INodeProperties {
	return {
		displayName: parameters.failOnFailure.displayName,
		name: parameters.failOnFailure.name,
		type: 'boolean',
		default: true,
		description: parameters.failOnFailure.description,
		displayOptions,
	};
}

/** The poll interval, an entry of an "Options" collection; `displayOptions` only where the collection serves other operations too. */
export function pollIntervalOption(parameters: WaitParameters, displayOptions?: DisplayOptions): INodeProperties {
	const { default: defaultSeconds, description } = parameters.pollInterval;
	return {
		displayName: 'Poll Interval (Seconds)',
		name: POLL_INTERVAL_OPTION,
		type: 'number',
		typeOptions: { minValue: 1 },
		default: defaultSeconds,
		description,
		...(displayOptions ? { displayOptions } : {}),
	};
}

/** The "Options" collection of a node whose only option is the wait's poll interval. */
export function waitOptionsProperty(parameters: WaitParameters, displayOptions: DisplayOptions): INodeProperties {
	return {
		displayName: 'Options',
		name: WAIT_OPTIONS_PARAMETER,
		type: 'collection',
		placeholder: 'Add Option',
		default: {},
		description: 'Settings most waits leave at their defaults',
		displayOptions,
		options: [pollIntervalOption(parameters)],
	};
}
