/**
 * ReadFlow domain core: pure, deterministic rules of reading (safe to import from Temporal workflows), and the value
 * lists every other part takes. May import nothing with I/O: no Node built-ins, no Temporal, NestJS, TypeORM or pg.
 */
export * from './problems';
export * from './seeded';
export * from './taxonomy';
export * from './reading';
export * from './text';
export * from './policy';
export * from './assignment';
export * from './capacity';
export { boxArea, clampToImage, compareBoxes, sameBox } from './geometry';
export * from './fusion';
export * from './agreement';
export * from './adaptive';
export * from './gold';
export * from './stages';
export * from './vocabulary';
export * from './dataset-formats';
export * from './statistics';
export * from './calibration';
