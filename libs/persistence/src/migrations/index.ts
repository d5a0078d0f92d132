/** Every migration, in order. Add new ones at the end; never edit one that has shipped. */
import { InitialSchema1795737600000 } from './1795737600000-initial-schema';

export const MIGRATIONS = [InitialSchema1795737600000];
