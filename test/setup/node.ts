// Unit tests run in Node; IndexedDB comes from fake-indexeddb (happy-dom has none).
import 'fake-indexeddb/auto';
