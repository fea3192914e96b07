export * from './KurierEmulator';
