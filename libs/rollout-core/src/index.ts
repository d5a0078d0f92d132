export * from './model';
export * from './policy';
export * from './decide';
export * from './plan';
export * from './simulator';
export * from './order';
export { Rng, EventQueue } from './random';
