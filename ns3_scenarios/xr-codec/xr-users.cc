/*
 * --users parsing (see xr-users.h).
 */
#include "xr-users.h"

#include "ns3/log.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <sstream>

namespace ns3
{

NS_LOG_COMPONENT_DEFINE("XrUsers");

namespace
{

/// Split `s` at `sep` (empty items kept).
std::vector<std::string>
Split(const std::string& s, char sep)
{
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, sep))
    {
        out.push_back(item);
    }
    if (!s.empty() && s.back() == sep)
    {
        out.emplace_back();
    }
    return out;
}

/// Parse a number, the whole string or nothing.
bool
ParseDouble(const std::string& s, double& out)
{
    char* end = nullptr;
    out = std::strtod(s.c_str(), &end);
    return !s.empty() && *end == '\0' && std::isfinite(out);
}

} // namespace

std::string
ParseXrUsers(const std::string& spec,
             const std::map<std::string, std::pair<double, double>>& ranges,
             std::vector<XrUser>& users)
{
    users.clear();
    std::map<std::string, uint32_t> count;
    std::vector<bool> named;
    for (const std::string& item : Split(spec, ','))
    {
        XrUser u;
        std::string body = item;
        const auto eq = item.find('=');
        if (eq != std::string::npos)
        {
            u.id = item.substr(0, eq);
            body = item.substr(eq + 1);
            if (u.id.empty())
            {
                return "user '" + item + "' has an empty ID";
            }
        }
        const std::vector<std::string> parts = Split(body, ':');
        u.type = parts.empty() ? "" : parts[0];
        for (auto& c : u.type)
        {
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        const auto range = ranges.find(u.type);
        if (range == ranges.end() || (parts.size() != 1 && parts.size() != 3))
        {
            return "user '" + item + "' must be [ID=]TYPE or [ID=]TYPE:MIN:MAX with TYPE AR, VR or CG";
        }
        u.kind = u.type == "CG" ? "cg" : "xr";
        u.rateMin = range->second.first;
        u.rateMax = range->second.second;
        if (parts.size() == 3 && !(ParseDouble(parts[1], u.rateMin) && ParseDouble(parts[2], u.rateMax)))
        {
            return "user '" + item + "': codec range MIN:MAX must be numbers (Mbps)";
        }
        if (!(u.rateMin > 0 && u.rateMin <= u.rateMax))
        {
            return "codec range of user '" + item + "' must satisfy 0 < min <= max";
        }
        named.push_back(!u.id.empty());
        ++count[u.type];
        users.push_back(u);
    }
    std::map<std::string, uint32_t> seen;
    for (size_t i = 0; i < users.size(); ++i)
    {
        const uint32_t k = ++seen[users[i].type];
        if (!named[i])
        {
            users[i].id = count[users[i].type] == 1 ? users[i].type : users[i].type + std::to_string(k);
        }
    }
    for (size_t i = 0; i < users.size(); ++i)
    {
        for (size_t j = 0; j < i; ++j)
        {
            if (users[i].id == users[j].id)
            {
                return "two users are called '" + users[i].id + "'";
            }
        }
    }
    return "";
}

} // namespace ns3
