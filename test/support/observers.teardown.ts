// Jest setupFilesAfterEnv of the e2e and chaos lanes: no observer outlives its test file.
import { stopObservers } from './availability.observer';

afterAll(() => stopObservers());
