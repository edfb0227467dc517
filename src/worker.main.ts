import 'reflect-metadata';
import { createWorkerContext, runMain } from './app/bootstrap';

runMain('worker', async () => createWorkerContext());
