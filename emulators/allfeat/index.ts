export * from './AllfeatEmulator';
