export * from './AllfeatEmulator';
export * from './AllfeatRegistration';
