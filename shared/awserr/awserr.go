// Package awserr classifies AWS API errors by their error code, read through
// smithy.APIError. Nothing here inspects error messages.
package awserr

import (
	"errors"

	"github.com/aws/smithy-go"
)

// AWS error codes elbattach reacts to.
const (
	InstanceNotFound       = "InvalidInstanceID.NotFound"
	InstanceIDMalformed    = "InvalidInstanceID.Malformed"
	SubnetConflict         = "InvalidSubnet.Conflict"
	SubnetRange            = "InvalidSubnet.Range"
	SubnetLimitExceeded    = "SubnetLimitExceeded"
	PermissionDuplicate    = "InvalidPermission.Duplicate"
	PermissionNotFound     = "InvalidPermission.NotFound"
	RulesLimitExceeded     = "RulesPerSecurityGroupLimitExceeded"
	RequestLimitExceeded   = "RequestLimitExceeded"
	DependencyViolation    = "DependencyViolation"
	RouteAlreadyExists     = "RouteAlreadyExists"
	AlreadyAssociated      = "Resource.AlreadyAssociated"
	TargetGroupNotFound    = "TargetGroupNotFound"
	LoadBalancerNotFound   = "LoadBalancerNotFound"
	InvalidTarget          = "InvalidTarget"
	TooManyTargets         = "TooManyTargets"
	InvalidSubnet          = "InvalidSubnet"
	InvalidConfiguration   = "InvalidConfigurationRequest"
	Throttling             = "Throttling"
	ValidationError        = "ValidationError"
	InvalidParameterValue  = "InvalidParameterValue"
	InvalidSecurityGroupID = "InvalidGroup.NotFound"
)

// Code returns the AWS error code of err, or "" when err carries none.
func Code(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// Is reports whether err carries one of the given AWS error codes.
func Is(err error, codes ...string) bool {
	c := Code(err)
	if c == "" {
		return false
	}
	for _, want := range codes {
		if c == want {
			return true
		}
	}
	return false
}

// Ignore returns nil when err carries one of the codes, else err.
func Ignore(err error, codes ...string) error {
	if Is(err, codes...) {
		return nil
	}
	return err
}

// IsNotFound reports whether err says the named resource does not exist.
func IsNotFound(err error) bool {
	return Is(err, InstanceNotFound, TargetGroupNotFound, LoadBalancerNotFound, InvalidSecurityGroupID)
}

// IsDuplicate reports whether err says the thing being created already exists.
func IsDuplicate(err error) bool {
	return Is(err, PermissionDuplicate, RouteAlreadyExists)
}

// IgnoreDuplicate returns nil for "already exists" errors, else err.
func IgnoreDuplicate(err error) error {
	if IsDuplicate(err) {
		return nil
	}
	return err
}
