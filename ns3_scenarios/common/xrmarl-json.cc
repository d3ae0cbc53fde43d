/*
 * JSON output of the scenarios (see xrmarl-json.h).
 */
#include "xrmarl-json.h"

#include "xrmarl-wire.h"

#include "ns3/assert.h"
#include "ns3/log.h"

#include <cmath>
#include <iomanip>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("XrMarlJson");

std::string
XrMarlNum(double x)
{
    if (!std::isfinite(x))
    {
        return "null";
    }
    std::ostringstream os;
    os << std::setprecision(7) << x;
    return os.str();
}

void
XrMarlJsonWriter::Key(const std::string& key)
{
    NS_ASSERT_MSG(!m_empty.empty(), "JSON field '" << key << "' outside any object");
    if (!m_empty.back())
    {
        m_os << ",";
    }
    m_empty.back() = false;
    m_os << "\"" << xrmarl::JsonEscape(key) << "\":";
}

XrMarlJsonWriter&
XrMarlJsonWriter::Open(const std::string& key)
{
    if (!m_empty.empty())
    {
        Key(key);
    }
    m_os << "{";
    m_empty.push_back(true);
    return *this;
}

XrMarlJsonWriter&
XrMarlJsonWriter::Close()
{
    NS_ASSERT_MSG(!m_empty.empty(), "no JSON object open");
    m_os << "}";
    m_empty.pop_back();
    return *this;
}

XrMarlJsonWriter&
XrMarlJsonWriter::Field(const std::string& key, double value)
{
    Key(key);
    m_os << XrMarlNum(value);
    return *this;
}

XrMarlJsonWriter&
XrMarlJsonWriter::Field(const std::string& key, bool value)
{
    Key(key);
    m_os << (value ? "true" : "false");
    return *this;
}

XrMarlJsonWriter&
XrMarlJsonWriter::Field(const std::string& key, const std::string& value)
{
    Key(key);
    m_os << "\"" << xrmarl::JsonEscape(value) << "\"";
    return *this;
}

XrMarlJsonWriter&
XrMarlJsonWriter::Field(const std::string& key, const char* value)
{
    return Field(key, std::string(value));
}

XrMarlJsonWriter&
XrMarlJsonWriter::Raw(const std::string& key, const std::string& json)
{
    Key(key);
    m_os << json;
    return *this;
}

} // namespace ns3
