export * from './TachyonEmulator';
