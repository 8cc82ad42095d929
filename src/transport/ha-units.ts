// What Home Assistant should make of a sensor's `unit`: the unit as HA spells it, the device class that unit implies
// and the state class that class allows (HA's sensor DEVICE_CLASS_UNITS and DEVICE_CLASS_STATE_CLASSES). Only units
// that imply one class are mapped: `%` may be humidity, battery or moisture and `ppm` CO₂ or CO, so they get a unit
// and a state class but no device class (a sensor's `homeassistant.device_class` says which).

export interface HaUnit {
  unit: string;
  device_class?: string;
  state_class: 'measurement' | 'total' | 'total_increasing';
}

/** [device class, state class, the units as HA spells them]. */
const TABLE: [string | undefined, HaUnit['state_class'], string[]][] = [
  ['temperature', 'measurement', ['°C', '°F', 'K']],
  ['pressure', 'measurement', ['Pa', 'hPa', 'kPa', 'bar', 'cbar', 'mbar', 'mmHg', 'inHg', 'psi']],
  ['voltage', 'measurement', ['μV', 'mV', 'V', 'kV', 'MV']],
  ['current', 'measurement', ['mA', 'A']],
  ['power', 'measurement', ['mW', 'W', 'kW', 'MW', 'GW', 'TW']],
  ['apparent_power', 'measurement', ['VA']],
  ['energy', 'total_increasing', ['Wh', 'kWh', 'MWh', 'GWh', 'J', 'kJ', 'MJ', 'GJ']],
  ['frequency', 'measurement', ['Hz', 'kHz', 'MHz', 'GHz']],
  ['illuminance', 'measurement', ['lx']],
  ['irradiance', 'measurement', ['W/m²']],
  ['signal_strength', 'measurement', ['dBm']],
  ['sound_pressure', 'measurement', ['dB', 'dBA']],
  ['speed', 'measurement', ['m/s', 'km/h', 'mph', 'ft/s', 'kn']],
  ['distance', 'measurement', ['mm', 'cm', 'm', 'km', 'in', 'ft', 'yd', 'mi']],
  ['weight', 'measurement', ['μg', 'mg', 'g', 'kg', 'oz', 'lb', 'st']],
  ['volume_storage', 'measurement', ['mL', 'L', 'm³', 'gal', 'ft³']],
  ['volume_flow_rate', 'measurement', ['m³/h', 'L/min', 'L/h', 'L/s', 'mL/s', 'gal/min', 'ft³/min']],
  ['precipitation_intensity', 'measurement', ['mm/h', 'in/h', 'mm/d', 'in/d']],
  ['duration', 'measurement', ['μs', 'ms', 's', 'min', 'h', 'd']],
  ['data_size', 'measurement', ['B', 'kB', 'MB', 'GB', 'TB', 'KiB', 'MiB', 'GiB', 'TiB']],
  ['data_rate', 'measurement', ['bit/s', 'kbit/s', 'Mbit/s', 'Gbit/s', 'B/s', 'kB/s', 'MB/s', 'GB/s']],
  ['conductivity', 'measurement', ['μS/cm', 'mS/cm', 'S/cm']],
  [undefined, 'measurement', ['%', 'ppm', 'ppb', 'μg/m³', 'mg/m³', '°', 'rpm']],
];

/** Other spellings users write, by the unit HA spells. */
const ALIASES: Record<string, string[]> = {
  '°C': ['celsius', 'degc', 'degrees celsius', 'C'],
  '°F': ['fahrenheit', 'degf', 'F'],
  K: ['kelvin'],
  lx: ['lux'],
  'W/m²': ['W/m2'],
  L: ['l', 'litre', 'liter', 'litres', 'liters'],
  'm³': ['m3'],
  'm³/h': ['m3/h'],
  s: ['sec', 'seconds'],
  '%': ['percent'],
};

const BY_SPELLING = new Map<string, HaUnit>();
for (const [deviceClass, stateClass, units] of TABLE) {
  for (const unit of units) {
    const entry: HaUnit = deviceClass === undefined ? { unit, state_class: stateClass } : { unit, device_class: deviceClass, state_class: stateClass };
    BY_SPELLING.set(unit, entry);
    // The micro sign (µ, U+00B5) and a plain u stand for the Greek mu HA uses.
    if (unit.includes('μ')) for (const mu of ['µ', 'u']) BY_SPELLING.set(unit.replace('μ', mu), entry);
  }
}
for (const [unit, aliases] of Object.entries(ALIASES)) {
  for (const alias of aliases) BY_SPELLING.set(alias, BY_SPELLING.get(unit) as HaUnit);
}
// Any case, where it is not ambiguous (kwh, HPA); exact spellings win (mW and MW, ms and Ms).
for (const [spelling, entry] of [...BY_SPELLING]) {
  if (!BY_SPELLING.has(spelling.toLowerCase())) BY_SPELLING.set(spelling.toLowerCase(), entry);
}

/**
 * How HA should see a sensor with this unit. A unit it does not know keeps the user's spelling and no device class;
 * every reading is a number, so the state class is `measurement` whatever the unit (none when there is no unit).
 */
export function haUnit(unit: string): HaUnit | { state_class: 'measurement' } {
  const trimmed = unit.trim();
  if (trimmed === '') return { state_class: 'measurement' };
  // Case matters first (mW, MW); then any case (KW, kwh).
  return BY_SPELLING.get(trimmed) ?? BY_SPELLING.get(trimmed.toLowerCase()) ?? { unit: trimmed, state_class: 'measurement' };
}

/** Every unit the table maps, as HA spells it (for the tests that hold it against Home Assistant's own). */
export function mappedUnits(): HaUnit[] {
  return [...new Set(BY_SPELLING.values())];
}
