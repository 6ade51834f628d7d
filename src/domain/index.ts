/**
 * ReadFlow domain core: pure, deterministic rules of reading (safe to import from Temporal workflows).
 */
export * from './problems';
export * from './seeded';
export * from './taxonomy';
export * from './reading';
export * from './policy';
export * from './assignment';
export { boxArea, clampToImage, compareBoxes, sameBox } from './geometry';
export * from './fusion';
export * from './agreement';
export * from './stages';
export * from './vocabulary';
export * from './dataset-formats';
