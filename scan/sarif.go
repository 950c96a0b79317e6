package scan

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/mcpgov/mcpgov/scan/finding"
)

// SARIF 2.1.0, the subset GitHub code scanning reads: rules with a
// security-severity, results with file + line locations and a stable
// fingerprint so a finding keeps its identity between runs.

// SARIFLog is a SARIF 2.1.0 document.
type SARIFLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []SARIFRun `json:"runs"`
}

// SARIFRun is one tool run.
type SARIFRun struct {
	Tool        sarifTool                 `json:"tool"`
	Results     []sarifResult             `json:"results"`
	Invocations []sarifInvocation         `json:"invocations,omitempty"`
	BaseIDs     map[string]sarifArtifactL `json:"originalUriBaseIds,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Language       string      `json:"language"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	Help                 sarifText      `json:"help"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	Level               string            `json:"level"`
	Message             sarifText         `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints"`
	Properties          map[string]any    `json:"properties"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactL `json:"artifactLocation"`
	Region           *sarifRegion   `json:"region,omitempty"`
}

type sarifArtifactL struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifInvocation struct {
	ExecutionSuccessful        bool                `json:"executionSuccessful"`
	ToolExecutionNotifications []sarifNotification `json:"toolExecutionNotifications,omitempty"`
}

type sarifNotification struct {
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

// sarifLevel maps severities to SARIF levels.
func sarifLevel(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical, finding.SeverityHigh:
		return "error"
	case finding.SeverityMedium:
		return "warning"
	}
	return "note"
}

// securitySeverity is GitHub's numeric severity (critical ≥ 9, high ≥ 7,
// medium ≥ 4, low < 4).
func securitySeverity(s finding.Severity) string {
	switch s {
	case finding.SeverityCritical:
		return "9.5"
	case finding.SeverityHigh:
		return "8.0"
	case finding.SeverityMedium:
		return "5.5"
	}
	return "3.0"
}

// SARIF renders the report. Files under baseDir are written relative to it
// (uriBaseId %SRCROOT%) so code scanning can annotate them in the
// repository; other files are absolute file:// URIs. extraRules describes
// rules added by enrichers.
func SARIF(r *Report, baseDir, version string, extraRules []finding.Rule) SARIFLog {
	all := append(append([]finding.Rule{}, Rules...), extraRules...)
	used := map[string]bool{}
	for _, s := range r.Servers {
		for _, f := range s.Findings {
			used[f.Rule] = true
		}
	}
	driver := sarifDriver{Name: "mcpgov", Version: version, InformationURI: "https://github.com/mcpgov/mcpgov", Language: "en-US", Rules: []sarifRule{}}
	for _, rule := range all {
		if !used[rule.ID] {
			continue
		}
		driver.Rules = append(driver.Rules, sarifRule{
			ID: rule.ID, Name: ruleName(rule.ID),
			ShortDescription:     sarifText{rule.Summary},
			Help:                 sarifText{rule.Help},
			DefaultConfiguration: sarifConfig{Level: sarifLevel(rule.Severity)},
			Properties:           map[string]any{"security-severity": securitySeverity(rule.Severity), "tags": []string{"security", "mcp"}},
		})
	}
	run := SARIFRun{Tool: sarifTool{Driver: driver}, Results: []sarifResult{}}
	if baseDir != "" {
		run.BaseIDs = map[string]sarifArtifactL{"%SRCROOT%": {URI: fileURI(baseDir) + "/"}}
	}
	for _, s := range r.Servers {
		for _, f := range s.Findings {
			line := f.Line
			if line == 0 {
				line = s.Line
			}
			msg := s.Name + " (" + s.Client + "): " + f.Message
			sum := sha256.Sum256([]byte(f.Rule + "\x00" + s.Client + "\x00" + s.Name + "\x00" + s.Identity + "\x00" + f.Field))
			run.Results = append(run.Results, sarifResult{
				RuleID: f.Rule, Level: sarifLevel(f.Severity), Message: sarifText{msg},
				Locations: []sarifLocation{location(s.File, line, baseDir)},
				PartialFingerprints: map[string]string{
					"mcpgovFinding/v1": hex.EncodeToString(sum[:16]),
				},
				Properties: map[string]any{
					"severity": string(f.Severity), "security-severity": securitySeverity(f.Severity),
					"client": s.Client, "server": s.Name, "identity": s.Identity, "scope": string(s.Scope),
				},
			})
		}
	}
	inv := sarifInvocation{ExecutionSuccessful: true}
	for _, e := range r.Errors {
		inv.ToolExecutionNotifications = append(inv.ToolExecutionNotifications, sarifNotification{
			Level: "warning", Message: sarifText{e.Message}, Locations: []sarifLocation{location(e.File, e.Line, baseDir)},
		})
	}
	run.Invocations = []sarifInvocation{inv}
	return SARIFLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs:    []SARIFRun{run},
	}
}

func ruleName(id string) string {
	parts := strings.Split(id, "-")
	for i, p := range parts {
		if p != "" {
			parts[i] = strings.ToUpper(p[:1]) + p[1:]
		}
	}
	return strings.Join(parts, "")
}

func location(file string, line int, baseDir string) sarifLocation {
	loc := sarifLocation{}
	if baseDir != "" {
		if rel, err := filepath.Rel(baseDir, file); err == nil && !strings.HasPrefix(rel, "..") {
			loc.PhysicalLocation.ArtifactLocation = sarifArtifactL{URI: filepath.ToSlash(rel), URIBaseID: "%SRCROOT%"}
		}
	}
	if loc.PhysicalLocation.ArtifactLocation.URI == "" {
		loc.PhysicalLocation.ArtifactLocation = sarifArtifactL{URI: fileURI(file)}
	}
	if line > 0 {
		loc.PhysicalLocation.Region = &sarifRegion{StartLine: line}
	}
	return loc
}

func fileURI(p string) string {
	p = filepath.ToSlash(p)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}
