/*
 * JSON output of the scenarios: number formatting and a small writer for the one-line
 * objects they print on stdout (per-window KPI lines, the final summary line).
 *
 * Every scenario prints its results the same way so that the Python side, the tests and the
 * benchmarks read them with one parser: numbers with 7 significant digits, non-finite
 * numbers as null, no spaces.
 */
#ifndef XRMARL_JSON_H
#define XRMARL_JSON_H

#include <concepts>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

namespace ns3
{

/// A number as JSON: 7 significant digits, "null" when not finite.
std::string XrMarlNum(double x);

/**
 * Writes one JSON object, fields in the order they are added, commas handled:
 *
 *     XrMarlJsonWriter js;
 *     js.Open().Open("summary").Field("scenario", "xr-codec").Field("windows", 40u);
 *     js.Close().Close();
 *     std::cout << js.Str() << std::endl;   // {"summary":{"scenario":"xr-codec","windows":40}}
 */
class XrMarlJsonWriter
{
  public:
    /// Open an object: the top-level one (no key) or a member object `key`.
    XrMarlJsonWriter& Open(const std::string& key = "");
    /// Close the innermost open object.
    XrMarlJsonWriter& Close();

    XrMarlJsonWriter& Field(const std::string& key, double value);     ///< XrMarlNum
    XrMarlJsonWriter& Field(const std::string& key, bool value);       ///< true / false
    XrMarlJsonWriter& Field(const std::string& key, const std::string& value); ///< quoted, escaped
    XrMarlJsonWriter& Field(const std::string& key, const char* value);        ///< quoted, escaped

    /// Integers as they are (no rounding to 7 digits).
    template <std::integral T>
    XrMarlJsonWriter& Field(const std::string& key, T value)
    {
        Key(key);
        m_os << value;
        return *this;
    }

    /// A member whose value is already JSON text.
    XrMarlJsonWriter& Raw(const std::string& key, const std::string& json);

    /// The text written so far.
    std::string Str() const
    {
        return m_os.str();
    }

  private:
    void Key(const std::string& key);

    std::ostringstream m_os;
    std::vector<bool> m_empty; ///< per open object: nothing written in it yet
};

} // namespace ns3

#endif // XRMARL_JSON_H
